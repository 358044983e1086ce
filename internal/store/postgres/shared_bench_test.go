package postgres

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/auth"
	"github.com/posthorn/posthorn/internal/greylist"
	"github.com/posthorn/posthorn/internal/store/postgres/pgtest"
)

// The cost of the state that a cluster's nodes share besides mail: the
// greylist decision of one RCPT and the login throttle's check and
// failure, on a durable cluster (pgtest.DurableDSN) next to the embedded
// setup (greylisting in a file, login failures in memory), with 1 and 50
// concurrent callers. For PostgreSQL each sub-benchmark also reports
// roundtrips/op: the client's round trips per operation (Sync and Query
// messages, counted by a relay in front of the server) over up to 100
// more operations of the same kind by one caller on a second Store
// through the relay, after the timed ones.

// benchCallers are the numbers of concurrent callers measured.
var benchCallers = []int{1, 50}

// benchSeq numbers the keys, networks and senders of the benchmarks, so
// that no two operations of a run, nor of two runs, share one.
var benchSeq atomic.Int64

// benchIDs reserves n numbers of benchSeq and returns the first.
func benchIDs(n int) int64 { return benchSeq.Add(int64(n)) - int64(n) }

// roundTripOps is how many operations countRoundTrips counts over.
const roundTripOps = 100

// benchOp is operation i of a benchmark.
type benchOp func(i int64) error

// benchParallel runs op(0) .. op(b.N-1) from callers goroutines; a
// caller stops at its first error.
func benchParallel(b *testing.B, callers int, op benchOp) {
	var next atomic.Int64
	b.SetParallelism((callers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(next.Add(1) - 1); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
}

// countRoundTrips reports the round trips per operation of op(1) ..
// op(roundTripOps), run by one caller through rc, after op(0) (which
// warms caches and prepares statements).
func countRoundTrips(b *testing.B, rc *roundTripCounter, op benchOp) {
	if err := op(0); err != nil {
		b.Fatal(err)
	}
	before := rc.trips.Load()
	for i := range int64(roundTripOps) {
		if err := op(i + 1); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rc.trips.Load()-before)/roundTripOps, "roundtrips/op")
}

// BenchmarkGreylist measures the greylist decision of one RCPT
// (greylist.List.Allow): "first", the first attempt of a new triplet
// from a new network (refused, recorded); "retry", its retry after the
// delay (let in; the triplet and its network recorded as passed);
// "known", a new sender from a network that passed (answered from the
// node's cache of known networks on PostgreSQL, from memory in the
// embedded setup).
func BenchmarkGreylist(b *testing.B) {
	dsn := pgtest.DurableDSN(b)
	st := openDSN(b, dsn)
	rc := newRoundTripCounter(b, dsn)
	counted := openDSN(b, rc.dsn)
	clock := newFakeClock()
	for _, kase := range []string{"first", "retry", "known"} {
		for _, backend := range []string{"embedded", "postgres"} {
			for _, callers := range benchCallers {
				b.Run(fmt.Sprintf("%s/%s/callers=%d", kase, backend, callers), func(b *testing.B) {
					var shared greylist.Shared
					if backend == "postgres" {
						shared = st
					}
					benchGreylist(b, kase, openBenchGreylist(b, clock, shared), clock, b.N, func(op benchOp) { benchParallel(b, callers, op) })
					if backend == "postgres" {
						benchGreylist(b, kase, openBenchGreylist(b, clock, counted), clock, roundTripOps+1, func(op benchOp) { countRoundTrips(b, rc, op) })
					}
				})
			}
		}
	}
}

// openBenchGreylist opens a List on shared, or on a file without.
func openBenchGreylist(b *testing.B, clock *fakeClock, shared greylist.Shared) *greylist.List {
	opts := greylist.Options{Shared: shared, Now: clock.now, Delay: 5 * time.Minute, MaxEntries: 1 << 30}
	if shared == nil {
		opts.Path = filepath.Join(b.TempDir(), "greylist")
	}
	l, err := greylist.Open(opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

// benchGreylist prepares n operations of kase on l and hands them to run.
func benchGreylist(b *testing.B, kase string, l *greylist.List, clock *fakeClock, n int, run func(benchOp)) {
	ctx := context.Background()
	base := benchIDs(n + 1)
	// attempt i: from a /64 of its own, sender and recipient its own.
	attempt := func(i int64, want bool) error {
		i += base
		if got := l.Allow(ctx, benchAddr(i), fmt.Sprintf("s%d@example.net", i), fmt.Sprintf("r%d@example.org", i)); got != want {
			return fmt.Errorf("%s: attempt %d allowed %v, want %v", kase, i, got, want)
		}
		return nil
	}
	prepare := func(i int64, want bool) {
		if err := attempt(i, want); err != nil {
			b.Fatal(err)
		}
	}
	switch kase {
	case "first":
		run(func(i int64) error { return attempt(i, false) })
	case "retry":
		for i := range int64(n) {
			prepare(i, false)
		}
		clock.add(6 * time.Minute)
		run(func(i int64) error { return attempt(i, true) })
	case "known":
		prepare(int64(n), false)
		clock.add(6 * time.Minute)
		prepare(int64(n), true)
		known := benchAddr(base + int64(n))
		run(func(i int64) error {
			if !l.Allow(ctx, known, fmt.Sprintf("k%d@example.net", base+i), "k@example.org") {
				return fmt.Errorf("known network: attempt %d refused", i)
			}
			return nil
		})
	}
}

// benchAddr is an IPv6 address in a /64 of its own for i.
func benchAddr(i int64) netip.Addr {
	a := [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}
	binary.BigEndian.PutUint32(a[4:8], uint32(i))
	return netip.AddrFrom16(a)
}

// BenchmarkLoginThrottle measures the login throttle's store
// (auth.FailureStore) on PostgreSQL next to the in-memory one: "check",
// a login's check of its IP and name (LoginLockouts), of keys "clean"
// (no record: a name and IP without earlier failures) or "failed" (each
// with a failure recorded, so not cached by the node), each operation
// with keys of its own, and "check/clean-cached" with one IP and name per
// caller, checked again and again; "fail", a failed login's count of its
// IP and name (AddLoginFailures), for "new" keys (a spray from new IPs
// and names: a record each, the size row's lock), for new keys into a
// "full" store (bound 100: each failure makes room), and for a guesser
// "repeating" one IP and name per caller (counted in place).
func BenchmarkLoginThrottle(b *testing.B) {
	dsn := pgtest.DurableDSN(b)
	st := openDSN(b, dsn)
	rc := newRoundTripCounter(b, dsn)
	counted := openDSN(b, rc.dsn)
	for _, kase := range []string{"check/clean", "check/clean-cached", "check/failed", "fail/new", "fail/full", "fail/repeating"} {
		for _, backend := range []string{"embedded", "postgres"} {
			for _, callers := range benchCallers {
				b.Run(fmt.Sprintf("%s/%s/callers=%d", kase, backend, callers), func(b *testing.B) {
					var fs auth.FailureStore = st
					if backend == "embedded" {
						fs = auth.NewMemoryFailures()
					}
					benchThrottle(b, kase, fs, b.N, callers, func(op benchOp) { benchParallel(b, callers, op) })
					if backend == "postgres" {
						benchThrottle(b, kase, counted, roundTripOps+1, 1, func(op benchOp) { countRoundTrips(b, rc, op) })
					}
				})
			}
		}
	}
}

// benchThrottle prepares n operations of kase on fs by callers and
// hands them to run.
func benchThrottle(b *testing.B, kase string, fs auth.FailureStore, n, callers int, run func(benchOp)) {
	ctx := context.Background()
	now := time.Now()
	const window = 15 * time.Minute
	base := benchIDs(n)
	// keys of operation i: its own IP and name, or with "repeating" and
	// "cached", its caller's (i mod callers: RunParallel hands the
	// operations out in order, near enough).
	keys := func(i int64) []string {
		if strings.HasSuffix(kase, "-cached") || kase == "fail/repeating" {
			i %= int64(callers)
		}
		i += base
		return []string{fmt.Sprintf("ip:bench%d", i), fmt.Sprintf("user:bench%d@example.org", i)}
	}
	fail := func(i int64, max int) error {
		k := keys(i)
		_, err := fs.AddLoginFailures(ctx, now, window, max, []auth.FailureKey{{Key: k[0], Limit: 1 << 30}, {Key: k[1], Limit: 1 << 30}})
		return err
	}
	check := func(i int64) error {
		until, err := fs.LoginLockouts(ctx, keys(i))
		if err != nil || len(until) != 2 || until[0].After(now) || until[1].After(now) {
			return fmt.Errorf("LoginLockouts: %v, %v", until, err)
		}
		return nil
	}
	switch kase {
	case "check/clean", "check/clean-cached":
		run(check)
	case "check/failed":
		for i := range int64(n) {
			if err := fail(i, auth.DefaultMaxFailureRecords); err != nil {
				b.Fatal(err)
			}
		}
		run(check)
	case "fail/new", "fail/repeating":
		run(func(i int64) error { return fail(i, auth.DefaultMaxFailureRecords) })
	case "fail/full":
		run(func(i int64) error { return fail(i, 100) })
	}
}
