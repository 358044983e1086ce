package claimloop

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A loop over a list of jobs never runs more than its slots at once,
// runs every job once, and Shutdown cancels what still runs at its
// deadline.
func TestLoop(t *testing.T) {
	var mu sync.Mutex
	todo := 40
	var running, peak, done atomic.Int32
	release := make(chan struct{})
	claim := func(ctx context.Context, n int) ([]int, error) {
		mu.Lock()
		defer mu.Unlock()
		k := min(n, todo)
		todo -= k
		return make([]int, k), nil
	}
	run := func(ctx context.Context, _ int) {
		r := running.Add(1)
		for p := peak.Load(); r > p && !peak.CompareAndSwap(p, r); p = peak.Load() {
		}
		select {
		case <-release:
		case <-time.After(5 * time.Millisecond):
		}
		running.Add(-1)
		done.Add(1)
	}
	l := New(Options[int]{Slots: 3, Poll: time.Hour, Claim: claim, Run: run})
	l.Start()
	deadline := time.Now().Add(30 * time.Second)
	for done.Load() < 40 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 40 jobs done", done.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if p := peak.Load(); p > 3 {
		t.Errorf("%d jobs at once, want at most 3", p)
	}
	// A job that only ends when cancelled: Shutdown's deadline ends it.
	mu.Lock()
	todo = 1
	mu.Unlock()
	var cancelled atomic.Bool
	l2 := New(Options[int]{Slots: 1, Poll: time.Hour, Claim: claim, Run: func(ctx context.Context, _ int) {
		<-ctx.Done()
		cancelled.Store(true)
	}})
	l2.Start()
	for {
		mu.Lock()
		left := todo
		mu.Unlock()
		if left == 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := l2.Shutdown(ctx); err != context.DeadlineExceeded || !cancelled.Load() {
		t.Errorf("Shutdown = %v, job cancelled %v", err, cancelled.Load())
	}
	close(release)
	if err := l.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown of an idle loop: %v", err)
	}
}

func TestBackoff(t *testing.T) {
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 5 * time.Second, 50: 5 * time.Second} {
		if got := Backoff(n, time.Second, 5*time.Second); got != want {
			t.Errorf("Backoff(%d) = %v, want %v", n, got, want)
		}
	}
}
