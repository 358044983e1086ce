package sqlite

import (
	"bytes"
	"context"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/posthorn/posthorn/internal/store"
)

// BenchmarkDeliver measures ingest: 10 KB messages delivered to one
// account by about 50 concurrent callers, each durable on return.
func BenchmarkDeliver(b *testing.B) {
	for _, tc := range []struct {
		name    string
		callers int
	}{{"callers=1", 1}, {"callers=50", 50}} {
		b.Run(tc.name, func(b *testing.B) {
			benchDeliver(b, tc.callers)
		})
	}
}

func benchDeliver(b *testing.B, callers int) {
	ctx := context.Background()
	s := openTest(b, filepath.Join(b.TempDir(), "bench.db"))
	if err := s.AddDomain(ctx, "example.org"); err != nil {
		b.Fatal(err)
	}
	acct, err := s.AddAccount(ctx, "alice@example.org", store.Credentials{})
	if err != nil {
		b.Fatal(err)
	}
	body := bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd\r\n"), 160) // 10,240 bytes
	b.SetBytes(int64(len(body)))
	b.SetParallelism((callers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	commits0, reqs0 := s.commits.Load(), s.requests.Load()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		d := store.Delivery{Body: body, Targets: []store.Target{{AccountID: acct.ID}}}
		for pb.Next() {
			if _, err := s.Deliver(ctx, d); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	if c := s.commits.Load() - commits0; c > 0 {
		b.ReportMetric(float64(s.requests.Load()-reqs0)/float64(c), "reqs/commit")
	}
}

// BenchmarkMessageBody measures random body reads from the read pool.
func BenchmarkMessageBody(b *testing.B) {
	ctx := context.Background()
	s := openTest(b, filepath.Join(b.TempDir(), "bench.db"))
	if err := s.AddDomain(ctx, "example.org"); err != nil {
		b.Fatal(err)
	}
	acct, err := s.AddAccount(ctx, "alice@example.org", store.Credentials{})
	if err != nil {
		b.Fatal(err)
	}
	body := bytes.Repeat([]byte("x"), 10240)
	var ids []int64
	for range 1000 {
		m, err := s.Deliver(ctx, store.Delivery{Body: body, Targets: []store.Target{{AccountID: acct.ID}}})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, m[0].ID)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i = (i + 7919) % len(ids)
			if _, err := s.MessageBody(ctx, ids[i]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
}
