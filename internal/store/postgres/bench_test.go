package postgres

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/postgres/pgtest"
)

// BenchmarkDeliver measures ingest on a durable cluster (fsync=on,
// synchronous_commit=on; pgtest.DurableDSN): 10 KB messages delivered by
// 1 or 50 concurrent callers, each durable on return, to one account
// (as store/sqlite's BenchmarkDeliver) or spread over 50 accounts, or
// each with an "inbound" event (as with an inbound webhook).
func BenchmarkDeliver(b *testing.B) {
	for _, tc := range []struct {
		name              string
		callers, accounts int
		events            bool
	}{{"callers=1", 1, 1, false}, {"callers=50", 50, 1, false}, {"callers=50/accounts=50", 50, 50, false},
		{"callers=50/inbound-event", 50, 1, true}} {
		b.Run(tc.name, func(b *testing.B) {
			benchDeliver(b, tc.callers, tc.accounts, tc.events)
		})
	}
}

func benchDeliver(b *testing.B, callers, accounts int, events bool) {
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
			if events { // as the MX writes with an "inbound" webhook
				d.Events = []store.Event{{Type: store.EventInbound, Domain: "example.org", Message: "m", Recipient: "r@example.org"}}
			}
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

// BenchmarkDeliverNodes compares one node with two on one durable
// database doing the same work: callers in all, each doing some CPU work
// of its own between deliveries (as an SMTP session does), split evenly
// over the nodes' Stores (each with its own pool, LISTEN connection and
// group-commit writer, as two posthorn processes have). It reports the
// deliveries per commit and the CPU per message of this process and of
// the PostgreSQL cluster (postmaster and children, read from /proc), the
// two parts of what nodes sharing one machine's CPU pay.
//
// watched: every node watches every INBOX (an IMAP session on each node
// has each selected), so every commit notifies; without it nobody
// watches and no commit does (watch.go).
func BenchmarkDeliverNodes(b *testing.B) {
	for _, callers := range []int{5, 10, 50} {
		for _, nodes := range []int{1, 2} {
			for _, watched := range []bool{false, true} {
				name := fmt.Sprintf("callers=%d/nodes=%d", callers, nodes)
				if watched {
					name += "/watched"
				}
				b.Run(name, func(b *testing.B) {
					benchDeliverNodes(b, nodes, callers, watched)
				})
			}
		}
	}
}

func benchDeliverNodes(b *testing.B, nodes, callers int, watched bool) {
	ctx := context.Background()
	dsn := pgtest.DurableDSN(b)
	var stores []*Store
	for range nodes {
		stores = append(stores, openDSN(b, dsn))
	}
	s := stores[0]
	if err := s.AddDomain(ctx, "example.org"); err != nil {
		b.Fatal(err)
	}
	var ids []int64
	for i := range callers {
		acct, err := s.AddAccount(ctx, fmt.Sprintf("user%d@example.org", i), store.Credentials{})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, acct.ID)
		if !watched {
			continue
		}
		inbox, err := s.Mailbox(ctx, acct.ID, store.Inbox)
		if err != nil {
			b.Fatal(err)
		}
		for _, st := range stores {
			_, cancel, err := st.Watch(ctx, inbox.ID)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(cancel)
		}
	}
	pgPID := postmasterPID(b, s)
	body := bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd\r\n"), 160)
	b.SetBytes(int64(len(body)))
	commits := func() (batches, batched int64) {
		for _, st := range stores {
			batches += st.batches.Load()
			batched += st.batched.Load()
		}
		return batches, batched
	}
	batches0, batched0 := commits()
	cpu0, db0 := processCPU(os.Getpid()), clusterCPU(pgPID)
	b.ResetTimer()
	var wg sync.WaitGroup
	var left atomic.Int64
	left.Store(int64(b.N))
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := stores[i%nodes]
			d := store.Delivery{Body: body, Targets: []store.Target{{AccountID: ids[i]}}}
			for left.Add(-1) >= 0 {
				sessionWork(body)
				if _, err := st.Deliver(ctx, d); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	cpu, db := processCPU(os.Getpid())-cpu0, clusterCPU(pgPID)-db0
	batches, batched := commits()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	if batches > batches0 {
		b.ReportMetric(float64(batched-batched0)/float64(batches-batches0), "reqs/commit")
	}
	b.ReportMetric(cpu.Seconds()*1000/float64(b.N), "node-cpu-ms/msg")
	b.ReportMetric(db.Seconds()*1000/float64(b.N), "db-cpu-ms/msg")
}

// sessionWork stands for an SMTP session's own CPU per message between
// two deliveries.
func sessionWork(body []byte) {
	for range 20 {
		sha256.Sum256(body)
	}
}

// postmasterPID is the PID of the cluster's postmaster: the parent of
// this connection's backend. It skips the benchmark when the server is
// not on this machine.
func postmasterPID(b *testing.B, s *Store) int {
	pool, err := s.db()
	if err != nil {
		b.Fatal(err)
	}
	var backend int
	if err := pool.QueryRow(context.Background(), `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		b.Fatal(err)
	}
	f, err := procStat(backend)
	if err != nil {
		b.Skipf("cluster CPU needs the server on this machine: %v", err)
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// clusterCPU is the CPU time so far of the postmaster and its children
// (backends, WAL writer, checkpointer), exited ones included.
func clusterCPU(pid int) time.Duration {
	t := processCPU(pid) // its cutime/cstime count the exited children
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f, err := procStat(p); err == nil && f[1] == strconv.Itoa(pid) {
			t += ticks(f, 11, 12)
		}
	}
	return t
}

// processCPU is a process's CPU time and that of its exited children.
func processCPU(pid int) time.Duration {
	f, err := procStat(pid)
	if err != nil {
		return 0
	}
	return ticks(f, 11, 12, 13, 14)
}

// procStat is /proc/PID/stat's fields after the command name (field 3
// of proc(5) is f[0]).
func procStat(pid int) ([]string, error) {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(st[bytes.LastIndexByte(st, ')')+2:])), nil
}

// ticks sums clock-tick fields of procStat as a duration.
func ticks(f []string, fields ...int) time.Duration {
	var n int64
	for _, i := range fields {
		v, _ := strconv.ParseInt(f[i], 10, 64)
		n += v
	}
	return time.Duration(n) * time.Second / 100 // USER_HZ
}
