package greylist

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeShared answers every attempt with verdict (or err) and records them.
type fakeShared struct {
	mu       sync.Mutex
	verdict  Verdict
	err      error
	attempts []Attempt
	triplets int // what SweepGreylist reports
	swept    chan struct{}
}

func (f *fakeShared) Greylist(_ context.Context, a Attempt) (Verdict, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts = append(f.attempts, a)
	return f.verdict, f.err
}

func (f *fakeShared) SweepGreylist(context.Context, time.Time, Rules) (int, error) {
	f.mu.Lock()
	n := f.triplets
	f.mu.Unlock()
	f.swept <- struct{}{}
	return n, nil
}

func (f *fakeShared) calls() []Attempt {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Attempt(nil), f.attempts...)
}

// TestSharedCachesKnownNetworks: a network the store called known is let
// in without asking again for netCacheFor, then asked again; attempts go
// to the store in lower case with the configured rules.
func TestSharedCachesKnownNetworks(t *testing.T) {
	c := &clock{time.Unix(1_700_000_000, 0)}
	f := &fakeShared{verdict: KnownNetwork, swept: make(chan struct{}, 10)}
	l, err := Open(Options{Shared: f, Now: c.now, Delay: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ip := netip.MustParseAddr("192.0.2.7")
	if !l.Allow(t.Context(), ip, "A@X.test", "Me@Ours.test") {
		t.Fatal("known network refused")
	}
	got := f.calls()
	if len(got) != 1 || got[0].Net != netip.MustParsePrefix("192.0.2.0/24") || got[0].Sender != "a@x.test" ||
		got[0].Recipient != "me@ours.test" || got[0].Rules.Delay != time.Minute || got[0].Full {
		t.Fatalf("attempts: %+v", got)
	}
	c.add(netCacheFor - time.Second)
	if !l.Allow(t.Context(), netip.MustParseAddr("192.0.2.8"), "b@y.test", "me@ours.test") {
		t.Fatal("cached network refused")
	}
	if n := len(f.calls()); n != 1 {
		t.Fatalf("%d store calls, want 1: the known network was not cached", n)
	}
	c.add(2 * time.Second)
	f.mu.Lock()
	f.verdict = FirstSeen // the network expired meanwhile
	f.mu.Unlock()
	if l.Allow(t.Context(), ip, "b@y.test", "me@ours.test") {
		t.Fatal("network allowed from the cache past netCacheFor")
	}
}

// TestSharedFailsOpen: when the store fails, the message is let in.
func TestSharedFailsOpen(t *testing.T) {
	c := &clock{time.Unix(1_700_000_000, 0)}
	f := &fakeShared{err: errors.New("connection refused"), swept: make(chan struct{}, 10)}
	var logs bytes.Buffer
	l, err := Open(Options{Shared: f, Now: c.now, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range 50 { // one RCPT each, while the store is down
		if !l.Allow(t.Context(), netip.MustParseAddr("192.0.2.7"), "a@x", fmt.Sprintf("r%d@o", i)) {
			t.Fatal("store error: message refused")
		}
	}
	f.mu.Lock()
	f.err, f.verdict = nil, Passed
	f.mu.Unlock()
	l.Allow(t.Context(), netip.MustParseAddr("192.0.2.8"), "a@x", "r@o")
	failed := strings.Count(logs.String(), "greylist: shared state (messages are let in meanwhile) failed")
	recovered := strings.Count(logs.String(), "recovered")
	if failed != 1 || recovered != 1 || strings.Count(logs.String(), "\n") > 2 {
		t.Errorf("50 failures then a success logged %d failure and %d recovery lines, want 1 and 1 and nothing else:\n%s", failed, recovered, logs.String())
	}
}

// TestSharedFull: once a sweep counted MaxEntries triplets, attempts say
// Full.
func TestSharedFull(t *testing.T) {
	c := &clock{time.Unix(1_700_000_000, 0)}
	f := &fakeShared{verdict: FirstSeen, triplets: 2, swept: make(chan struct{}, 10)}
	l, err := Open(Options{Shared: f, Now: c.now, MaxEntries: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ip := netip.MustParseAddr("192.0.2.7")
	l.Allow(t.Context(), ip, "a@x", "r@o") // starts the first sweep
	select {
	case <-f.swept:
	case <-time.After(time.Minute):
		t.Fatal("no sweep at the first attempt")
	}
	l.Close() // waits for the sweep to record its count
	l.Allow(t.Context(), ip, "b@x", "r@o")
	got := f.calls()
	if len(got) != 2 || got[0].Full || !got[1].Full {
		t.Fatalf("Full in the attempts: %v, %v; want false (no count yet), true (the sweep counted 2)", got[0].Full, got[1].Full)
	}
}
