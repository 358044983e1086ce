package postgres

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// TestDeliverDuringClose: Close while many Deliver calls are queued for
// group commit returns, and every call ends with success or ErrClosed;
// each success is stored (read back through a second Store).
func TestDeliverDuringClose(t *testing.T) {
	dsn := migratedDSN(t)
	s := openDSN(t, dsn)
	ctx := t.Context()
	if err := s.AddDomain(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	a, err := s.AddAccount(ctx, "alice@example.org", store.Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg sync.WaitGroup
		mu sync.Mutex
		ok []int64
	)
	for range 40 {
		wg.Go(func() {
			for {
				ms, err := s.Deliver(ctx, store.Delivery{Body: []byte("x"), Targets: []store.Target{{AccountID: a.ID}}})
				if errors.Is(err, store.ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("Deliver during Close: %v", err)
					return
				}
				mu.Lock()
				ok = append(ok, ms[0].ID)
				mu.Unlock()
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("Close hangs with deliveries in flight")
	}
	wg.Wait()
	other := openDSN(t, dsn)
	inbox, err := other.Mailbox(ctx, a.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := other.Messages(ctx, inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[int64]bool{}
	for _, m := range msgs {
		stored[m.ID] = true
	}
	for _, id := range ok {
		if !stored[id] {
			t.Errorf("message %d acknowledged but not stored", id)
		}
	}
	if len(ok) == 0 {
		t.Error("no delivery succeeded before Close")
	}
	t.Logf("%d deliveries acknowledged, %d stored", len(ok), len(msgs))
}
