package postgres

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/postgres/pgtest"
	"github.com/posthorn/posthorn/internal/testutil/poll"
	"github.com/posthorn/posthorn/internal/testutil/syncbuf"
)

// aliceInbox adds example.org and alice@example.org through s and returns
// the account and its INBOX as s sees them.
func aliceInbox(t *testing.T, s *Store) (store.Account, store.Mailbox) {
	t.Helper()
	ctx := t.Context()
	if err := s.AddDomain(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	acct, err := s.AddAccount(ctx, "alice@example.org", store.Credentials{PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := s.Mailbox(ctx, acct.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	return acct, inbox
}

// openLogged opens a Store on dsn whose log goes to the returned buffer
// (text lines), closed at the test's end.
func openLogged(t *testing.T, dsn string) (*Store, *syncbuf.Buffer) {
	t.Helper()
	var buf syncbuf.Buffer
	s, err := Open(context.Background(), dsn, Options{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, &buf
}

// wakeWithin waits for a wake-up on ch, failing the test after d, and
// returns how long it took.
func wakeWithin(t *testing.T, ch <-chan struct{}, d time.Duration, what string) time.Duration {
	t.Helper()
	start := time.Now()
	select {
	case <-ch:
		return time.Since(start)
	case <-time.After(d):
		t.Fatalf("%s: no wake-up within %v", what, d)
		return 0
	}
}

// mustWatch is s.Watch, failing the test on an error.
func mustWatch(t *testing.T, s *Store, mailboxID int64) (<-chan struct{}, func()) {
	t.Helper()
	ch, cancel, err := s.Watch(t.Context(), mailboxID)
	if err != nil {
		t.Fatalf("Watch(%d): %v", mailboxID, err)
	}
	return ch, cancel
}

// mustWatchAccount is s.WatchAccount, failing the test on an error.
func mustWatchAccount(t *testing.T, s *Store, accountID int64) (<-chan struct{}, func()) {
	t.Helper()
	ch, cancel, err := s.WatchAccount(t.Context(), accountID)
	if err != nil {
		t.Fatalf("WatchAccount(%d): %v", accountID, err)
	}
	return ch, cancel
}

// drain empties a watch channel (coalesced wake-ups of earlier writes).
func drain(ch <-chan struct{}) {
	select {
	case <-ch:
	default:
	}
}

// TestWatchAcrossNodes: a delivery through node a wakes a Watch and a
// WatchAccount on node b, which then reads the message; flags set on b
// wake a's watch and a reads them. The issue asks for a wake-up within
// 1 s; the bound here is generous for a loaded machine and the measured
// latency is logged.
func TestWatchAcrossNodes(t *testing.T) {
	a, b := twoNodes(t)
	ctx := t.Context()
	acct, inbox := aliceInbox(t, a)
	chB, cancelB := mustWatch(t, b, inbox.ID)
	defer cancelB()
	accB, cancelAccB := mustWatchAccount(t, b, acct.ID)
	defer cancelAccB()
	chA, cancelA := mustWatch(t, a, inbox.ID)
	defer cancelA()

	start := time.Now()
	msgs, err := a.Deliver(ctx, store.Delivery{Body: []byte("Subject: hi\r\n\r\nhello\r\n"), Targets: []store.Target{{AccountID: acct.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	wakeWithin(t, chB, 10*time.Second, "node b's Watch after a Deliver on node a")
	t.Logf("Deliver on node a to wake-up on node b: %v", time.Since(start))
	wakeWithin(t, accB, 10*time.Second, "node b's WatchAccount after a Deliver on node a")
	got, err := b.MessagesFrom(ctx, inbox.ID, 1)
	if err != nil || len(got) != 1 || got[0].ID != msgs[0].ID {
		t.Fatalf("node b after its wake-up reads %+v, %v; want the delivered message", got, err)
	}

	drain(chA)
	start = time.Now()
	if _, _, err := b.UpdateFlags(ctx, inbox.ID, []uint32{got[0].UID}, store.FlagsAdd, []string{`\Seen`}, 0); err != nil {
		t.Fatal(err)
	}
	wakeWithin(t, chA, 10*time.Second, "node a's Watch after flags set on node b")
	t.Logf("UpdateFlags on node b to wake-up on node a: %v", time.Since(start))
	got, err = a.MessagesFrom(ctx, inbox.ID, 1)
	if err != nil || len(got) != 1 || !slices.Equal(got[0].Flags, []string{`\Seen`}) {
		t.Fatalf("node a after its wake-up reads %+v, %v; want the message \\Seen", got, err)
	}

	// A node's own write wakes its own watch once, not again when its
	// notification comes back through LISTEN.
	drain(chA)
	drain(chB)
	if _, err := a.Expunge(ctx, inbox.ID, nil); err != nil { // nothing \Deleted: no change
		t.Fatal(err)
	}
	if _, _, err := a.UpdateFlags(ctx, inbox.ID, []uint32{got[0].UID}, store.FlagsAdd, []string{"$A"}, 0); err != nil {
		t.Fatal(err)
	}
	wakeWithin(t, chA, time.Second, "node a's own UpdateFlags")
	// Node b's wake-up comes through LISTEN: once it has, a's echo has
	// arrived too, and must not have woken a again.
	wakeWithin(t, chB, 10*time.Second, "node b after node a's UpdateFlags")
	if _, _, err := b.UpdateFlags(ctx, inbox.ID, []uint32{got[0].UID}, store.FlagsAdd, []string{"$B"}, 0); err != nil {
		t.Fatal(err)
	}
	wakeWithin(t, chA, 10*time.Second, "node a after node b's UpdateFlags")
	select {
	case <-chA:
		t.Error("node a woken twice: its own notification came back through LISTEN")
	case <-time.After(300 * time.Millisecond):
	}
}

// TestWatchListenerLost: while a node's LISTEN connection is down,
// notifications are lost; when it reconnects it wakes every watcher once,
// so a change made meanwhile is not missed, and later changes wake it
// again. The node logs the loss and, once, that the connection is back.
func TestWatchListenerLost(t *testing.T) {
	dsn := pgtest.DSN(t)
	a := openDSN(t, dsn)
	b, logB := openLogged(t, dsn)
	ctx := t.Context()
	acct, inbox := aliceInbox(t, a)
	ch, cancel := mustWatch(t, b, inbox.ID)
	defer cancel()
	pid := b.caches.listenerPID.Load()
	if pid == 0 {
		t.Fatal("no listener pid")
	}
	// Hold b's reconnection until a has delivered: its notification is
	// then lost for sure.
	down, resume := make(chan struct{}), make(chan struct{})
	hold := func() {
		select {
		case down <- struct{}{}:
			<-resume
		default:
		}
	}
	b.beforeReconnect.Store(&hold)
	if _, err := a.pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, int32(pid)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-down:
	case <-time.After(20 * time.Second):
		t.Fatal("node b's listener did not notice it was cut")
	}
	drain(ch)
	if _, err := a.Deliver(ctx, store.Delivery{Body: []byte("x"), Targets: []store.Target{{AccountID: acct.ID}}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
		t.Fatal("node b woken while its listener was down")
	case <-time.After(200 * time.Millisecond):
	}
	close(resume)
	wakeWithin(t, ch, 20*time.Second, "node b's Watch by the reconnection")
	poll.Until(t, 20*time.Second, "node b reconnects its listener", func() bool {
		p := b.caches.listenerPID.Load()
		return p != 0 && p != pid
	})
	// The watch is registered again for the new connection, and the
	// old connection's row, swept, no longer keeps the mailbox announced.
	if err := a.sweepDeadWatches(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := watchRows(t, a, inbox.ID), []int32{int32(b.caches.listenerPID.Load())}; !slices.Equal(got, want) {
		t.Fatalf("after the reconnection the mailbox is registered for listeners %v, want %v (the new one)", got, want)
	}
	drain(ch)
	if _, err := a.Deliver(ctx, store.Delivery{Body: []byte("y"), Targets: []store.Target{{AccountID: acct.ID}}}); err != nil {
		t.Fatal(err)
	}
	wakeWithin(t, ch, 10*time.Second, "node b's Watch after the reconnection")
	got, err := b.Messages(ctx, inbox.ID)
	if err != nil || len(got) != 2 {
		t.Fatalf("node b reads %d messages, %v; want 2", len(got), err)
	}
	// The loss, then the recovery, once each (the listener reconnected
	// at the first try once resumed).
	log := logB.String()
	lost := strings.Index(log, `msg="postgres: LISTEN connection lost"`)
	restored := strings.Index(log, `msg="postgres: LISTEN connection restored"`)
	if lost < 0 || restored < lost || strings.Count(log, "LISTEN connection restored") != 1 {
		t.Errorf("node b's log, want the loss and then one restoration:\n%s", log)
	}
}
