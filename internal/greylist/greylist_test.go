package greylist

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func open(t *testing.T, path string, c *clock) *List {
	t.Helper()
	l, err := Open(Options{Path: path, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestAllow(t *testing.T) {
	c := &clock{time.Unix(1_700_000_000, 0)}
	path := filepath.Join(t.TempDir(), "greylist")
	l := open(t, path, c)
	ip := netip.MustParseAddr("192.0.2.10")
	if l.Allow(t.Context(), ip, "a@x.test", "me@ours.test") {
		t.Fatal("first attempt allowed")
	}
	c.add(time.Minute)
	if l.Allow(t.Context(), ip, "a@x.test", "me@ours.test") {
		t.Fatal("retry before the delay allowed")
	}
	c.add(5 * time.Minute)
	// The retry comes from another address of the same /24.
	if !l.Allow(t.Context(), netip.MustParseAddr("192.0.2.11"), "A@X.test", "me@ours.test") {
		t.Fatal("retry after the delay refused")
	}
	// The network is now known: other senders and recipients pass.
	if !l.Allow(t.Context(), ip, "b@y.test", "you@ours.test") {
		t.Fatal("known network greylisted")
	}
	// Another network starts over; a retry after the window too.
	other := netip.MustParseAddr("198.51.100.1")
	if l.Allow(t.Context(), other, "a@x.test", "me@ours.test") {
		t.Fatal("unknown network allowed")
	}
	c.add(72 * time.Hour)
	if l.Allow(t.Context(), other, "a@x.test", "me@ours.test") {
		t.Fatal("retry after the window allowed")
	}

	// The state survives a restart.
	l.Close()
	l2 := open(t, path, c)
	if !l2.Allow(t.Context(), ip, "c@z.test", "me@ours.test") {
		t.Fatal("known network forgotten after reopening")
	}
	if l2.Allow(t.Context(), other, "a@x.test", "me@ours.test") {
		t.Fatal("pending triplet: allowed before its delay after reopening")
	}
	c.add(10 * time.Minute)
	if !l2.Allow(t.Context(), other, "a@x.test", "me@ours.test") {
		t.Fatal("pending triplet forgotten after reopening")
	}
	// A known network expires.
	c.add(40 * 24 * time.Hour)
	if l2.Allow(t.Context(), ip, "c@z.test", "me@ours.test") {
		t.Fatal("network remembered past its expiry")
	}
}

func TestFullFailsOpen(t *testing.T) {
	c := &clock{time.Unix(1_700_000_000, 0)}
	l, err := Open(Options{MaxEntries: 2, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	l.Allow(t.Context(), netip.MustParseAddr("192.0.2.1"), "a@x", "r@o")
	l.Allow(t.Context(), netip.MustParseAddr("192.0.2.1"), "b@x", "r@o")
	if !l.Allow(t.Context(), netip.MustParseAddr("192.0.2.1"), "c@x", "r@o") {
		t.Error("full table greylisted a new triplet")
	}
}

// TestFileGrowth: a known network's mail does not add a line per message.
func TestFileGrowth(t *testing.T) {
	c := &clock{time.Unix(1_700_000_000, 0)}
	path := filepath.Join(t.TempDir(), "greylist")
	l := open(t, path, c)
	ip := netip.MustParseAddr("192.0.2.10")
	l.Allow(t.Context(), ip, "a@x.test", "me@ours.test")
	c.add(6 * time.Minute)
	l.Allow(t.Context(), ip, "a@x.test", "me@ours.test")
	before, _ := os.ReadFile(path)
	for range 100 {
		c.add(time.Minute)
		if !l.Allow(t.Context(), ip, "a@x.test", "me@ours.test") {
			t.Fatal("known network refused")
		}
	}
	after, _ := os.ReadFile(path)
	if len(after) != len(before) {
		t.Errorf("file grew from %d to %d bytes over 100 messages in 100 minutes", len(before), len(after))
	}
}
