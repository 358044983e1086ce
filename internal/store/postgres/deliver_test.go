package postgres

import (
	"errors"
	"fmt"
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

// TestDeliverTwoNodesOneMailbox: two nodes delivering into one mailbox
// at once hand out every UID once, without gaps, and make them visible
// in order: a reader that has seen UID n never later finds a new message
// below n. The counters match the messages at the end.
func TestDeliverTwoNodesOneMailbox(t *testing.T) {
	dsn := migratedDSN(t)
	a, b := openDSN(t, dsn), openDSN(t, dsn)
	ctx := t.Context()
	if err := a.AddDomain(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	acct, err := a.AddAccount(ctx, "alice@example.org", store.Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := b.Mailbox(ctx, acct.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	const perCaller, callers = 25, 8
	body := []byte("Subject: x\r\n\r\n0123456789\r\n")
	done := make(chan struct{})
	readerErr := make(chan error, 1)
	go func() { // the reader, on node b, as an IMAP session re-syncing
		var last uint32
		seen := 0
		for {
			select {
			case <-done:
				readerErr <- nil
				return
			default:
			}
			msgs, err := b.MessagesFrom(ctx, inbox.ID, 1)
			if err != nil {
				readerErr <- err
				return
			}
			if len(msgs) < seen {
				readerErr <- fmt.Errorf("messages went from %d to %d", seen, len(msgs))
				return
			}
			for _, m := range msgs[seen:] {
				if m.UID <= last {
					readerErr <- fmt.Errorf("UID %d appeared after UID %d had been seen", m.UID, last)
					return
				}
				last = m.UID
			}
			seen = len(msgs)
		}
	}()
	var wg sync.WaitGroup
	for i := range callers {
		node := a
		if i%2 == 1 {
			node = b
		}
		wg.Go(func() {
			for range perCaller {
				if _, err := node.Deliver(ctx, store.Delivery{Body: body, Targets: []store.Target{{AccountID: acct.ID}}}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	if err := <-readerErr; err != nil {
		t.Fatal(err)
	}
	const n = perCaller * callers
	msgs, err := a.Messages(ctx, inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != n {
		t.Fatalf("%d messages, want %d", len(msgs), n)
	}
	for i, m := range msgs {
		if m.UID != uint32(i+1) {
			t.Fatalf("message %d has UID %d: UIDs not 1..%d without gaps", i, m.UID, n)
		}
	}
	st, err := b.MailboxStatus(ctx, inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Messages != n || st.Unseen != n || st.UIDNext != n+1 || st.Size != int64(n*len(body)) {
		t.Errorf("status %+v, want %d messages, all unseen, UIDNEXT %d, size %d", st, n, n+1, n*len(body))
	}
	if u, err := a.Usage(ctx, acct.ID); err != nil || u != int64(n*len(body)) {
		t.Errorf("Usage = %d, %v; want %d", u, err, n*len(body))
	}
}
