// Package failuretest checks an auth.FailureStore against the bound of
// its contract: the in-memory store (package auth) and the PostgreSQL one
// run the same checks.
package failuretest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/auth"
)

// Bound fills fs, whose records count returns (overflow records
// included), past maxRecords (small: 10 to 50) from many keys, serially
// and from several goroutines: the records stay within maxRecords (plus
// the two overflow records), a locked key stays locked, and once every
// record is locked out, new keys are counted, and locked out, under
// their kind's overflow record until the window ends.
func Bound(t *testing.T, fs auth.FailureStore, maxRecords int, count func() int) {
	t.Helper()
	ctx := t.Context()
	now := time.Unix(1_800_000_000, 0)
	const window = 10 * time.Minute
	const limit = 3
	fail := func(keys ...string) []auth.FailureCount {
		t.Helper()
		fk := make([]auth.FailureKey, len(keys))
		for i, k := range keys {
			fk[i] = auth.FailureKey{Key: k, Limit: limit}
		}
		c, err := fs.AddLoginFailures(ctx, now, window, maxRecords, fk)
		if err != nil {
			t.Fatalf("AddLoginFailures(%v): %v", keys, err)
		}
		return c
	}
	locked := func(key string) bool {
		t.Helper()
		until, err := fs.LoginLockouts(ctx, []string{key})
		if err != nil {
			t.Fatalf("LoginLockouts(%s): %v", key, err)
		}
		return until[0].After(now)
	}
	within := func(when string, bound int) {
		t.Helper()
		if n := count(); n > bound {
			t.Fatalf("%s: %d records, bound %d", when, n, bound)
		}
	}

	for range limit {
		fail("user:victim")
	}
	if !locked("user:victim") {
		t.Fatal("user:victim not locked out after its limit")
	}
	// A spray: every failure from a new IP for a new name.
	for i := range 10 * maxRecords {
		if c := fail(fmt.Sprintf("ip:10.0.%d.%d", i/256, i%256), fmt.Sprintf("user:spray%d", i)); c[0].Count != 1 || c[1].Count != 1 {
			t.Fatalf("spray %d: counts %+v, want 1 and 1", i, c)
		}
		within(fmt.Sprintf("spray %d", i), maxRecords)
	}
	if n := count(); n != maxRecords {
		t.Errorf("after the spray: %d records, want the bound %d (full, making room)", n, maxRecords)
	}
	if !locked("user:victim") {
		t.Fatal("user:victim's lockout dropped to make room")
	}
	// The same from several goroutines at once.
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2 * maxRecords {
				keys := []auth.FailureKey{{Key: fmt.Sprintf("ip:10.%d.%d.1", g+1, i), Limit: limit}, {Key: fmt.Sprintf("user:g%d-%d", g, i), Limit: limit}}
				if _, err := fs.AddLoginFailures(ctx, now, window, maxRecords, keys); err != nil {
					t.Errorf("goroutine %d: %v", g, err)
					return
				}
			}
		})
	}
	wg.Wait()
	within("after the concurrent spray", maxRecords)
	if !locked("user:victim") {
		t.Fatal("user:victim's lockout dropped by the concurrent spray")
	}

	// Lock out new names until every record is locked: the next names
	// count under overflow:user, whose lockout then covers every name
	// without a record, not IPs.
	overflowed := -1
	for i := 0; overflowed < 0 || i < overflowed+2; i++ {
		var last auth.FailureCount
		for range limit {
			last = fail(fmt.Sprintf("user:lock%d", i))[0]
		}
		if !last.Locked {
			t.Fatalf("user:lock%d: the %dth failure did not lock it out: %+v", i, limit, last)
		}
		within(fmt.Sprintf("locking user:lock%d", i), maxRecords+2)
		if overflowed < 0 && locked("user:never-failed") {
			overflowed = i
		}
		if i > 2*maxRecords {
			t.Fatalf("%d names locked out and no overflow: every record should be locked out", i)
		}
	}
	// user:victim and user:lock0 .. lock(maxRecords-2) fill the records.
	if overflowed != maxRecords-1 {
		t.Errorf("the overflow began at user:lock%d, want user:lock%d (the first with every record locked out)", overflowed, maxRecords-1)
	}
	for _, k := range []string{"user:victim", "user:lock0", "user:lock1"} {
		if !locked(k) {
			t.Errorf("%s not locked out while the store is full", k)
		}
	}
	if locked("ip:192.0.2.1") {
		t.Error("an IP without a record locked out by the names' overflow")
	}

	// After the window the lockouts end; a new key gets a record of its
	// own again (taking the place of an ended lockout).
	now = now.Add(window + time.Second)
	if locked("user:never-failed") || locked("user:victim") {
		t.Fatal("lockouts outlast the window")
	}
	if c := fail("user:after"); c[0].Count != 1 {
		t.Fatalf("user:after: count %d, want 1 (its own record)", c[0].Count)
	}
	for range limit - 1 {
		fail("user:after")
	}
	if !locked("user:after") || locked("user:never-failed") {
		t.Error("after the window: a new name's failures were not counted under its own record")
	}
	within("after the window", maxRecords+2)
}
