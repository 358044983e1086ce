package postgres

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/greylist"
)

// fakeClock is one clock for several nodes, safe for concurrent use.
type fakeClock struct{ us atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.us.Store(time.Unix(1_800_000_000, 0).UnixMicro())
	return c
}
func (c *fakeClock) now() time.Time      { return time.UnixMicro(c.us.Load()) }
func (c *fakeClock) add(d time.Duration) { c.us.Add(d.Microseconds()) }

// greylistOn opens a greylist.List whose state is in st.
func greylistOn(t *testing.T, st *Store, c *fakeClock) *greylist.List {
	t.Helper()
	l, err := greylist.Open(greylist.Options{Shared: st, Now: c.now, Delay: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestGreylistAcrossNodes: two nodes on one database greylist as one: a
// triplet first seen on A passes on B after the delay (not before), a
// network that passed on B is let in on A for another sender, and a
// retry after the window starts over, whichever node sees it.
func TestGreylistAcrossNodes(t *testing.T) {
	sa, sb := twoNodes(t)
	c := newFakeClock()
	a, b := greylistOn(t, sa, c), greylistOn(t, sb, c)
	ctx := t.Context()
	ip := netip.MustParseAddr("192.0.2.10")
	if a.Allow(ctx, ip, "s@x.test", "r@ours.test") {
		t.Fatal("A: first attempt allowed")
	}
	c.add(time.Minute)
	if b.Allow(ctx, ip, "s@x.test", "r@ours.test") {
		t.Fatal("B: retry before the delay allowed (B did not see A's first attempt?)")
	}
	if b.Allow(ctx, netip.MustParseAddr("192.0.2.99"), "s@x.test", "other@ours.test") {
		t.Fatal("B: another recipient allowed before anything passed")
	}
	c.add(5 * time.Minute)
	// The retry from another address of the same /24, in another case.
	if !b.Allow(ctx, netip.MustParseAddr("192.0.2.11"), "S@X.test", "r@ours.test") {
		t.Fatal("B: retry after the delay refused: A's first attempt was not shared")
	}
	// A never saw the pass: the network is known through the database.
	if !a.Allow(ctx, ip, "t@y.test", "you@ours.test") {
		t.Fatal("A: network that passed on B greylisted")
	}
	other := netip.MustParseAddr("198.51.100.1")
	if a.Allow(ctx, other, "s@x.test", "r@ours.test") {
		t.Fatal("A: unknown network allowed")
	}
	c.add(72 * time.Hour) // past the window
	if b.Allow(ctx, other, "s@x.test", "r@ours.test") {
		t.Fatal("B: retry after the window allowed")
	}
	c.add(6 * time.Minute)
	if !a.Allow(ctx, other, "s@x.test", "r@ours.test") {
		t.Fatal("A: retry of the new round refused")
	}
	// A known network expires on both nodes (their caches included).
	c.add(40 * 24 * time.Hour)
	if a.Allow(ctx, ip, "z@z.test", "r@ours.test") || b.Allow(ctx, ip, "z2@z.test", "r@ours.test") {
		t.Fatal("network remembered past its expiry")
	}
}

// TestGreylistConcurrentFirstAttempts: the same new triplet on both nodes
// at once is refused everywhere and recorded once; its retry passes.
func TestGreylistConcurrentFirstAttempts(t *testing.T) {
	sa, sb := twoNodes(t)
	c := newFakeClock()
	nodes := []*greylist.List{greylistOn(t, sa, c), greylistOn(t, sb, c)}
	ip := netip.MustParseAddr("203.0.113.5")
	var wg sync.WaitGroup
	var allowed atomic.Int32
	for i := range 16 {
		wg.Go(func() {
			if nodes[i%2].Allow(t.Context(), ip, "s@x.test", "r@ours.test") {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != 0 {
		t.Fatalf("%d of 16 concurrent first attempts allowed", n)
	}
	var rows int
	if err := sa.pool.QueryRow(t.Context(), `SELECT count(*) FROM greylist_triplets`).Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("greylist_triplets: %d rows (%v), want 1", rows, err)
	}
	c.add(5 * time.Minute)
	if !nodes[1].Allow(t.Context(), ip, "s@x.test", "r@ours.test") {
		t.Fatal("retry refused")
	}
}

// TestGreylistSweep: expired triplets (pending past the window, passed
// past the expiry) and networks are deleted, live ones kept and counted;
// a full table lets a new triplet in without recording it, while known
// triplets are still decided.
func TestGreylistSweep(t *testing.T) {
	st := openDSN(t, migratedDSN(t))
	ctx := t.Context()
	c := newFakeClock()
	r := greylist.Rules{Delay: 5 * time.Minute, Window: 48 * time.Hour, Expiry: 35 * 24 * time.Hour, Touch: 24 * time.Hour}
	try := func(net, sender string, full bool) greylist.Verdict {
		t.Helper()
		v, err := st.Greylist(ctx, greylist.Attempt{Net: netip.MustParsePrefix(net), Sender: sender, Recipient: "r@ours.test", Now: c.now(), Rules: r, Full: full})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	count := func(table string) int {
		t.Helper()
		var n int
		if err := st.pool.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if v := try("192.0.2.0/24", "passes@x", false); v != greylist.FirstSeen {
		t.Fatalf("first attempt: %v", v)
	}
	try("198.51.100.0/24", "pending@x", false)
	c.add(time.Minute)
	if v := try("198.51.100.0/24", "pending@x", true); v != greylist.TooSoon {
		t.Fatalf("known pending triplet while full: %v, want TooSoon", v)
	}
	c.add(9 * time.Minute)
	if v := try("192.0.2.0/24", "passes@x", false); v != greylist.Passed {
		t.Fatalf("retry: %v", v)
	}
	if v := try("192.0.2.0/24", "another@x", true); v != greylist.KnownNetwork {
		t.Fatalf("known network while full: %v", v)
	}
	if v := try("203.0.113.0/24", "new@x", true); v != greylist.NotRemembered {
		t.Fatalf("new triplet while full: %v, want NotRemembered", v)
	}
	if n, err := st.SweepGreylist(ctx, c.now(), r); err != nil || n != 2 {
		t.Fatalf("sweep with nothing expired: %d triplets, %v; want 2", n, err)
	}
	// Past the window: the pending triplet goes, the passed one stays.
	c.add(49 * time.Hour)
	try("203.0.113.0/24", "late@x", false) // a live pending one
	if n, err := st.SweepGreylist(ctx, c.now(), r); err != nil || n != 2 {
		t.Fatalf("sweep after the window: %d triplets, %v; want 2 (passed + late)", n, err)
	}
	// Past the expiry: everything goes.
	c.add(36 * 24 * time.Hour)
	if n, err := st.SweepGreylist(ctx, c.now(), r); err != nil || n != 0 {
		t.Fatalf("sweep after the expiry: %d triplets, %v; want 0", n, err)
	}
	if n := count("greylist_networks"); n != 0 {
		t.Errorf("%d networks left after their expiry", n)
	}
	if n := count("greylist_triplets"); n != 0 {
		t.Errorf("%d triplets left after their expiry", n)
	}
}
