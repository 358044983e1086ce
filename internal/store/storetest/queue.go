package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// What the delivery worker needs: leases, attempts, per-recipient state,
// and the administration commands' hold, retry and remove.

func testQueueLeases(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	now := time.Now()
	id1, err := s.Enqueue(ctx, store.QueuedMessage{From: "a@example.org", Recipients: []string{"x@remote.test", "y@remote.test", "z@other.test"}, Body: []byte("one")})
	if err != nil {
		t.Fatal(err)
	}
	id2, err := s.Enqueue(ctx, store.QueuedMessage{From: "a@example.org", Recipients: []string{"w@remote.test"}, Body: []byte("two"),
		NextAttempt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if next, err := s.NextQueuedAttempt(ctx); err != nil || next.After(now.Add(time.Second)) {
		t.Errorf("NextQueuedAttempt = %v, %v; want about now", next, err)
	}
	got, err := s.ClaimQueued(ctx, now.Add(time.Second), time.Minute, 10, "node-a")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != id1 || got[0].Lease == 0 || got[0].LeaseHolder != "node-a" {
		t.Fatalf("ClaimQueued = %+v, want only message %d with a lease held by node-a", got, id1)
	}
	if m, err := s.QueuedMessage(ctx, id1); err != nil || m.Lease != got[0].Lease || m.LeaseHolder != "node-a" {
		t.Errorf("QueuedMessage of a claimed message = %+v, %v; want its lease held by node-a", m, err)
	}
	m := got[0]
	if !slices.Equal(m.Recipients, []string{"x@remote.test", "y@remote.test", "z@other.test"}) || len(m.Status) != 3 {
		t.Errorf("claimed message recipients %v, status %+v", m.Recipients, m.Status)
	}
	// Leased: a second claim before the lease ends gets nothing.
	if again, err := s.ClaimQueued(ctx, now.Add(30*time.Second), time.Minute, 10, "node-a"); err != nil || len(again) != 0 {
		t.Errorf("ClaimQueued during the lease = %+v, %v", again, err)
	}
	// After the lease ends the message is claimed again, with a new token;
	// the old lease is lost.
	again, err := s.ClaimQueued(ctx, now.Add(2*time.Minute), time.Minute, 10, "node-b")
	if err != nil || len(again) != 1 || again[0].ID != id1 || again[0].Lease == m.Lease || again[0].LeaseHolder != "node-b" {
		t.Fatalf("ClaimQueued after the lease = %+v, %v", again, err)
	}
	err = s.FinishAttempt(ctx, store.Attempt{ID: id1, Lease: m.Lease, NextAttempt: now})
	wantErr(t, "FinishAttempt with an expired lease", err, store.ErrLeaseLost)

	lease := again[0].Lease
	next := now.Add(10 * time.Minute).Truncate(time.Millisecond)
	err = s.FinishAttempt(ctx, store.Attempt{ID: id1, Lease: lease, NextAttempt: next, LastError: "451 4.3.0 try later",
		Results: []store.RecipientStatus{
			{Address: "x@remote.test", State: store.RecipientDelivered, Reply: "250 ok"},
			{Address: "y@remote.test", State: store.RecipientFailed, Reply: "550 5.1.1 unknown"},
			{Address: "z@other.test", State: store.RecipientPending, Reply: "451 4.3.0 try later"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "FinishAttempt twice", s.FinishAttempt(ctx, store.Attempt{ID: id1, Lease: lease, NextAttempt: next}), store.ErrLeaseLost)
	m, err = s.QueuedMessage(ctx, id1)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus := []store.RecipientStatus{
		{Address: "x@remote.test", State: store.RecipientDelivered, Reply: "250 ok"},
		{Address: "y@remote.test", State: store.RecipientFailed, Reply: "550 5.1.1 unknown"},
		{Address: "z@other.test", State: store.RecipientPending, Reply: "451 4.3.0 try later"},
	}
	if !slices.Equal(m.Status, wantStatus) || !slices.Equal(m.Recipients, []string{"z@other.test"}) ||
		m.Attempts != 1 || !m.NextAttempt.Equal(next) || m.Lease != 0 || m.LeaseHolder != "" || m.LastError != "451 4.3.0 try later" || m.Warned {
		t.Errorf("after FinishAttempt: %+v", m)
	}
	// Not due before next.
	if c, _ := s.ClaimQueued(ctx, next.Add(-time.Second), time.Minute, 10, "node-a"); len(c) != 0 {
		t.Errorf("claimed before its next attempt: %+v", c)
	}

	// Hold: not claimed even when due; release makes it due at once.
	if err := s.HoldQueued(ctx, id1, true); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.QueuedMessage(ctx, id1); !m.Held {
		t.Error("HoldQueued: not held")
	}
	if c, _ := s.ClaimQueued(ctx, next.Add(time.Hour*2), time.Minute, 10, "node-a"); len(c) != 1 || c[0].ID != id2 {
		t.Errorf("ClaimQueued with message %d held = %+v, want only %d", id1, c, id2)
	} else if err := s.FinishAttempt(ctx, store.Attempt{ID: id2, Lease: c[0].Lease, NextAttempt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.HoldQueued(ctx, id1, false); err != nil {
		t.Fatal(err)
	}
	c, err := s.ClaimQueued(ctx, time.Now().Add(time.Second), time.Minute, 10, "node-a")
	if err != nil || len(c) != 1 || c[0].ID != id1 {
		t.Fatalf("ClaimQueued after release = %+v, %v", c, err)
	}
	// A held message's lease in flight still finishes.
	if err := s.HoldQueued(ctx, id1, true); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishAttempt(ctx, store.Attempt{ID: id1, Lease: c[0].Lease, NextAttempt: time.Now(), Warned: true}); err != nil {
		t.Errorf("FinishAttempt of a message held meanwhile: %v", err)
	}
	if m, _ := s.QueuedMessage(ctx, id1); !m.Held || !m.Warned || m.Attempts != 2 {
		t.Errorf("after finishing a held message: %+v", m)
	}
	if err := s.HoldQueued(ctx, id1, false); err != nil {
		t.Fatal(err)
	}

	// Retry makes a later message due now; a live lease is left alone.
	if err := s.RetryQueued(ctx, id2); err != nil {
		t.Fatal(err)
	}
	c, err = s.ClaimQueued(ctx, time.Now().Add(time.Second), time.Hour, 10, "node-a")
	if err != nil || len(c) != 2 {
		t.Fatalf("ClaimQueued after retry = %+v, %v", c, err)
	}
	if err := s.RetryQueued(ctx, id2); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.ClaimQueued(ctx, time.Now().Add(time.Second), time.Hour, 10, "node-a"); len(c) != 0 {
		t.Errorf("RetryQueued broke a live lease: claimed %+v", c)
	}
	// The last pending recipient done: the message leaves the queue.
	var lease2 int64
	for _, m := range c {
		if m.ID == id2 {
			lease2 = m.Lease
		}
	}
	for _, m := range c {
		if m.ID == id2 {
			continue
		}
		lease = m.Lease
	}
	if err := s.FinishAttempt(ctx, store.Attempt{ID: id1, Lease: lease, Results: []store.RecipientStatus{
		{Address: "z@other.test", State: store.RecipientDelivered, Reply: "250 ok"},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.QueuedMessage(ctx, id1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("QueuedMessage after the last recipient was done: %v, want ErrNotFound", err)
	}
	_, err = s.QueuedBody(ctx, id1)
	wantErr(t, "QueuedBody of a finished message", err, store.ErrNotFound)

	// Remove, even while leased.
	if err := s.RemoveQueued(ctx, id2); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "FinishAttempt of a removed message", s.FinishAttempt(ctx, store.Attempt{ID: id2, Lease: lease2}), store.ErrLeaseLost)
	wantErr(t, "RemoveQueued twice", s.RemoveQueued(ctx, id2), store.ErrNotFound)
	wantErr(t, "HoldQueued unknown", s.HoldQueued(ctx, id2, true), store.ErrNotFound)
	wantErr(t, "RetryQueued unknown", s.RetryQueued(ctx, id2), store.ErrNotFound)
	_, err = s.QueuedMessage(ctx, id2)
	wantErr(t, "QueuedMessage unknown", err, store.ErrNotFound)
	if next, err := s.NextQueuedAttempt(ctx); err != nil || !next.IsZero() {
		t.Errorf("NextQueuedAttempt of an empty queue = %v, %v", next, err)
	}
	_, err = s.ClaimQueued(ctx, time.Now(), 0, 10, "node-a")
	wantErr(t, "ClaimQueued without a lease time", err, store.ErrInvalid)
}

// testQueueConcurrentClaims: claims racing from many goroutines never hand
// one message to two of them.
func testQueueConcurrentClaims(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	const n = 200
	for i := range n {
		if _, err := s.Enqueue(ctx, store.QueuedMessage{Recipients: []string{"r@remote.test"}, Body: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	type result struct {
		ids []int64
		err error
	}
	results := make(chan result, 8)
	for range 8 {
		go func() {
			var r result
			for {
				c, err := s.ClaimQueued(ctx, time.Now(), time.Hour, 7, "node-a")
				if err != nil || len(c) == 0 {
					r.err = err
					results <- r
					return
				}
				for _, m := range c {
					r.ids = append(r.ids, m.ID)
				}
			}
		}()
	}
	seen := map[int64]bool{}
	for range 8 {
		r := <-results
		if r.err != nil {
			t.Fatal(r.err)
		}
		for _, id := range r.ids {
			if seen[id] {
				t.Errorf("message %d claimed twice", id)
			}
			seen[id] = true
		}
	}
	if len(seen) != n {
		t.Errorf("claimed %d messages, want %d", len(seen), n)
	}
}

func testQueueCounts(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	now := time.Now()
	counts := func(at time.Time, want store.QueueCounts) {
		t.Helper()
		got, err := s.QueueCounts(ctx, at)
		if err != nil || got != want {
			t.Errorf("QueueCounts = %+v, %v; want %+v", got, err, want)
		}
	}
	counts(now, store.QueueCounts{})
	enqueue := func(next time.Time) int64 {
		t.Helper()
		id, err := s.Enqueue(ctx, store.QueuedMessage{From: "a@example.org", Recipients: []string{"x@remote.test"}, Body: []byte("x"), Queued: now, NextAttempt: next})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	enqueue(now)
	enqueue(now.Add(-time.Minute))
	later := enqueue(now.Add(time.Hour))
	held := enqueue(now)
	if err := s.HoldQueued(ctx, held, true); err != nil {
		t.Fatal(err)
	}
	counts(now, store.QueueCounts{Queued: 2, Deferred: 1, Held: 1})
	counts(now.Add(2*time.Hour), store.QueueCounts{Queued: 3, Held: 1})

	// A claimed message is deferred until its lease ends.
	claimed, err := s.ClaimQueued(ctx, now, time.Minute, 1, "node-a")
	if err != nil || len(claimed) != 1 {
		t.Fatalf("ClaimQueued = %+v, %v", claimed, err)
	}
	counts(now, store.QueueCounts{Queued: 1, Deferred: 2, Held: 1})
	if err := s.RemoveQueued(ctx, later); err != nil {
		t.Fatal(err)
	}
	if err := s.HoldQueued(ctx, held, false); err != nil {
		t.Fatal(err)
	}
	counts(now.Add(2*time.Minute), store.QueueCounts{Queued: 3})
}

// testQueueRenewLease: a renewed lease keeps other claims off past its
// first end; a lease that ran out and was claimed again cannot be
// renewed, nor can one of a removed message.
func testQueueRenewLease(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	now := time.Now()
	id, err := s.Enqueue(ctx, store.QueuedMessage{From: "a@example.org", Recipients: []string{"x@remote.test"}, Body: []byte("x"), Queued: now})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.ClaimQueued(ctx, now, time.Minute, 10, "node-a")
	if err != nil || len(c) != 1 {
		t.Fatalf("ClaimQueued = %+v, %v", c, err)
	}
	first := c[0].Lease
	until := now.Add(10 * time.Minute).Truncate(time.Microsecond)
	if err := s.RenewLease(ctx, id, first, until); err != nil {
		t.Fatal(err)
	}
	if m, err := s.QueuedMessage(ctx, id); err != nil || m.Lease != first || !m.NextAttempt.Equal(until) {
		t.Errorf("after RenewLease: %+v, %v; want lease %d until %v", m, err, first, until)
	}
	if again, err := s.ClaimQueued(ctx, now.Add(2*time.Minute), time.Minute, 10, "node-a"); err != nil || len(again) != 0 {
		t.Errorf("claimed past the first end of a renewed lease: %+v, %v", again, err)
	}
	wantErr(t, "RenewLease with a wrong token", s.RenewLease(ctx, id, first+1, until), store.ErrLeaseLost)
	// Ran out after all: claimed again; the first lease can neither be
	// renewed nor finish.
	c, err = s.ClaimQueued(ctx, until.Add(time.Second), time.Minute, 10, "node-a")
	if err != nil || len(c) != 1 || c[0].Lease == first {
		t.Fatalf("ClaimQueued after the renewed lease ran out = %+v, %v", c, err)
	}
	wantErr(t, "RenewLease of a lease taken over", s.RenewLease(ctx, id, first, until.Add(time.Hour)), store.ErrLeaseLost)
	if m, _ := s.QueuedMessage(ctx, id); m.Lease != c[0].Lease || !m.NextAttempt.Equal(until.Add(time.Second+time.Minute).Truncate(time.Microsecond)) {
		t.Errorf("a refused renewal changed the message: %+v", m)
	}
	wantErr(t, "FinishAttempt of a lease taken over", s.FinishAttempt(ctx, store.Attempt{ID: id, Lease: first}), store.ErrLeaseLost)
	if err := s.RemoveQueued(ctx, id); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "RenewLease of a removed message", s.RenewLease(ctx, id, c[0].Lease, until), store.ErrLeaseLost)
}
