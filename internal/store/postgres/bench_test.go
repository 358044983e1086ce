package postgres

import (
	"bytes"
	"context"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/postgres/pgtest"
)

// BenchmarkDeliver measures ingest on a durable cluster (fsync=on,
// synchronous_commit=on; pgtest.DurableDSN): 10 KB messages delivered by
// 1 or 50 concurrent callers, each durable on return, to one account
// (as store/sqlite's BenchmarkDeliver) or spread over 50 accounts.
func BenchmarkDeliver(b *testing.B) {
	for _, tc := range []struct {
		name              string
		callers, accounts int
	}{{"callers=1", 1, 1}, {"callers=50", 50, 1}, {"callers=50/accounts=50", 50, 50}} {
		b.Run(tc.name, func(b *testing.B) {
			benchDeliver(b, tc.callers, tc.accounts)
		})
	}
}

func benchDeliver(b *testing.B, callers, accounts int) {
	ctx := context.Background()
	s := openDSN(b, pgtest.DurableDSN(b))
	if err := s.AddDomain(ctx, "example.org"); err != nil {
		b.Fatal(err)
	}
	var ids []int64
	for i := range accounts {
		acct, err := s.AddAccount(ctx, "user"+string(rune('a'+i%26))+string(rune('a'+i/26))+"@example.org", store.Credentials{})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, acct.ID)
	}
	body := bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd\r\n"), 160) // 10,240 bytes
	b.SetBytes(int64(len(body)))
	b.SetParallelism((callers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	var next atomicCounter
	batches0, batched0 := s.batches.Load(), s.batched.Load()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		acct := ids[int(next.add())%len(ids)]
		d := store.Delivery{Body: body, Targets: []store.Target{{AccountID: acct}}}
		for pb.Next() {
			if _, err := s.Deliver(ctx, d); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	if c := s.batches.Load() - batches0; c > 0 {
		b.ReportMetric(float64(s.batched.Load()-batched0)/float64(c), "reqs/commit")
	}
}

type atomicCounter struct{ n atomic.Int64 }

func (c *atomicCounter) add() int64 { return c.n.Add(1) - 1 }

// BenchmarkResolve measures the directory reads of one RCPT (store.Resolve:
// HasDomain, Account, and for an alias Alias and its targets' Account),
// answered from the directory cache or, uncached, from the database (the
// generation moved on before every call, as before the cache existed).
func BenchmarkResolve(b *testing.B) {
	ctx := context.Background()
	s := openDSN(b, pgtest.DSN(b))
	if err := s.AddDomain(ctx, "example.org"); err != nil {
		b.Fatal(err)
	}
	if _, err := s.AddAccount(ctx, "user@example.org", store.Credentials{}); err != nil {
		b.Fatal(err)
	}
	if err := s.AddAlias(ctx, "alias@example.org", []string{"user@example.org"}); err != nil {
		b.Fatal(err)
	}
	for _, local := range []string{"user", "alias"} {
		for _, cached := range []bool{false, true} {
			name := local + "/uncached"
			if cached {
				name = local + "/cached"
			}
			b.Run(name, func(b *testing.B) {
				for b.Loop() {
					if !cached {
						s.caches.gen.bump()
					}
					accts, err := store.Resolve(ctx, s, local, "example.org", "+")
					if err != nil || len(accts) != 1 {
						b.Fatal(accts, err)
					}
				}
			})
		}
	}
}
