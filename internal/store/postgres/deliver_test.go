package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
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

// TestDeliverEventsBatched: deliveries with events are group-committed
// like the others, and each one's events are written only when it is
// stored. A transaction holding alice's INBOX row keeps the writer's
// first batch waiting in the database while twenty more deliveries
// queue up; they must then commit as one batch of twenty: nineteen
// stored with their "inbound" event (ID and Seq filled in), one over
// quota refused alone, its event not written.
func TestDeliverEventsBatched(t *testing.T) {
	dsn := migratedDSN(t)
	s := openDSN(t, dsn)
	ctx := t.Context()
	if err := s.AddDomain(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	alice, err := s.AddAccount(ctx, "alice@example.org", store.Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := s.AddAccount(ctx, "bob@example.org", store.Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetQuota(ctx, "bob@example.org", 5); err != nil {
		t.Fatal(err)
	}
	blocker, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Close(context.Background())
	tx, err := blocker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM mailboxes WHERE account_id = $1 FOR UPDATE`, alice.ID); err != nil {
		t.Fatal(err)
	}

	batches0, batched0 := s.batches.Load(), s.batched.Load()
	type call struct {
		d   store.Delivery
		err error
	}
	calls := make([]*call, 21)
	for i := range calls {
		acct, rcpt := alice.ID, "alice@example.org"
		if i == 20 {
			acct, rcpt = bob.ID, "bob@example.org"
		}
		calls[i] = &call{d: store.Delivery{Body: []byte("a body of some length"), Targets: []store.Target{{AccountID: acct}},
			Events: []store.Event{{Type: store.EventInbound, Domain: "example.org", Message: fmt.Sprintf("m%d", i), Recipient: rcpt}}}}
	}
	var wg sync.WaitGroup
	run := func(c *call) { wg.Go(func() { _, c.err = s.Deliver(ctx, c.d) }) }
	run(calls[0])
	waitFor(t, "the first batch waiting for alice's INBOX row", func() bool {
		var n int
		err := blocker.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
		return err == nil && n == 1
	})
	for _, c := range calls[1:] {
		run(c)
	}
	waitFor(t, "twenty deliveries queued behind the first batch", func() bool { return len(s.deliveries) == 20 })
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	if b, n := s.batches.Load()-batches0, s.batched.Load()-batched0; b != 2 || n != 21 {
		t.Errorf("%d deliveries in %d commits, want 21 in 2 (1, then 20)", n, b)
	}
	seqs := map[int64]bool{}
	for i, c := range calls {
		e := c.d.Events[0]
		switch {
		case i == 20:
			if !errors.Is(c.err, store.ErrOverQuota) {
				t.Errorf("bob's delivery: %v, want ErrOverQuota", c.err)
			}
		case c.err != nil:
			t.Errorf("delivery %d: %v", i, c.err)
		case e.ID == "" || e.Seq == 0 || seqs[e.Seq]:
			t.Errorf("delivery %d: event ID %q Seq %d, want an ID and a Seq of its own", i, e.ID, e.Seq)
		default:
			seqs[e.Seq] = true
		}
	}
	evs, err := s.QueryEvents(ctx, store.EventFilter{Domain: "example.org", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, e := range evs {
		got[e.Message] = e.Seq
	}
	for i, c := range calls {
		seq, ok := got[fmt.Sprintf("m%d", i)]
		switch {
		case i == 20 && ok:
			t.Errorf("the refused delivery's event was written")
		case i < 20 && (!ok || seq != c.d.Events[0].Seq):
			t.Errorf("event of delivery %d: stored %v with seq %d, returned seq %d", i, ok, seq, c.d.Events[0].Seq)
		}
	}
	if len(evs) != 20 {
		t.Errorf("%d events stored, want 20", len(evs))
	}
}

// waitFor polls cond for up to 30 s and fails the test naming what it
// waited for.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after 30 s waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
