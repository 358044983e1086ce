package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/postgres/pgtest"
	"github.com/posthorn/posthorn/internal/testutil/poll"
)

// rawListener LISTENs on the mail channel on a connection of its own, as
// a third node would.
func rawListener(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(t.Context(), "LISTEN "+notifyChannel); err != nil {
		t.Fatal(err)
	}
	return conn
}

// nextPayload returns the next notification's payload on conn.
func nextPayload(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	n, err := conn.WaitForNotification(ctx)
	if err != nil {
		t.Fatalf("no notification within 10 s: %v", err)
	}
	return n.Payload
}

// TestNotifyOnlyWatched: writes announce on the channel only the
// mailboxes some node watches (or whose account it watches), both
// group-committed deliveries (posthorn_deliver) and the other writes
// (publish). Notifications arrive in commit order, so the first one a
// listener gets after an unwatched write and then a watched one must be
// the watched one's.
func TestNotifyOnlyWatched(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := openDSN(t, dsn), openDSN(t, dsn)
	ctx := t.Context()
	acct, inbox := aliceInbox(t, a)
	bob, err := a.AddAccount(ctx, "bob@example.org", store.Credentials{PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	bobInbox, err := a.Mailbox(ctx, bob.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	listen := rawListener(t, dsn)
	deliver := func(accountID int64) {
		t.Helper()
		if _, err := a.Deliver(ctx, store.Delivery{Body: []byte("x"), Targets: []store.Target{{AccountID: accountID}}}); err != nil {
			t.Fatal(err)
		}
	}
	_, cancel := mustWatch(t, b, inbox.ID)
	deliver(bob.ID)
	deliver(acct.ID)
	want := fmt.Sprintf("%d %d", acct.ID, inbox.ID)
	if got := nextPayload(t, listen); got != want {
		t.Fatalf("first notification %q, want %q (alice's watched INBOX; bob's is not watched)", got, want)
	}
	// The same through publish (Append, UpdateFlags).
	if _, err := a.Append(ctx, bobInbox.ID, store.AppendOptions{}, []byte("y")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.UpdateFlags(ctx, inbox.ID, []uint32{1}, store.FlagsAdd, []string{`\Seen`}, 0); err != nil {
		t.Fatal(err)
	}
	if got := nextPayload(t, listen); got != want {
		t.Fatalf("after Append to bob and flags on alice: %q, want %q", got, want)
	}
	cancel()

	// An account's watch: every mailbox of it, and account-wide changes.
	_, cancelAcct := mustWatchAccount(t, b, bob.ID)
	defer cancelAcct()
	deliver(bob.ID)
	if got, want := nextPayload(t, listen), fmt.Sprintf("%d %d", bob.ID, bobInbox.ID); got != want {
		t.Fatalf("after a delivery to bob, whose account is watched: %q, want %q", got, want)
	}
	if _, err := a.CreateMailbox(ctx, bob.ID, "Later", ""); err != nil {
		t.Fatal(err)
	}
	if got, want := nextPayload(t, listen), fmt.Sprintf("%d 0", bob.ID); got != want {
		t.Fatalf("after CreateMailbox for bob: %q, want %q", got, want)
	}
}

// TestWatchWaitsForWriters: a registration waits for a write in flight
// on the mailbox (or, for an account, a mailbox creation in flight), so
// that the write is either committed before Watch returns (and the
// caller's read sees it) or sees the registration. A Watch returning
// while the row is locked could miss that write's notification.
func TestWatchWaitsForWriters(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := openDSN(t, dsn), openDSN(t, dsn)
	ctx := t.Context()
	acct, inbox := aliceInbox(t, a)
	for _, tc := range []struct {
		name  string
		lock  string
		arg   int64
		watch func() (<-chan struct{}, func(), error)
	}{
		{"Watch", `SELECT 1 FROM mailboxes WHERE id = $1 FOR NO KEY UPDATE`, inbox.ID,
			func() (<-chan struct{}, func(), error) { return b.Watch(ctx, inbox.ID) }},
		{"WatchAccount", `SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE`, acct.ID,
			func() (<-chan struct{}, func(), error) { return b.WatchAccount(ctx, acct.ID) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tx, err := a.pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(context.Background())
			if _, err := tx.Exec(ctx, tc.lock, tc.arg); err != nil {
				t.Fatal(err)
			}
			type result struct {
				cancel func()
				err    error
			}
			done := make(chan result, 1)
			go func() {
				_, cancel, err := tc.watch()
				done <- result{cancel, err}
			}()
			select {
			case r := <-done:
				if r.cancel != nil {
					r.cancel()
				}
				t.Fatalf("%s returned (err %v) while a writer held the row", tc.name, r.err)
			case <-time.After(300 * time.Millisecond):
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			select {
			case r := <-done:
				if r.err != nil {
					t.Fatal(r.err)
				}
				r.cancel()
			case <-time.After(10 * time.Second):
				t.Fatalf("%s still waiting 10 s after the writer committed", tc.name)
			}
		})
	}
}

// TestWatchNeverMisses: a session that watches a mailbox and then reads
// it either reads a concurrent delivery from another node or is woken
// by it, over many fresh mailboxes (each Watch registers anew).
func TestWatchNeverMisses(t *testing.T) {
	a, b := twoNodes(t)
	ctx := t.Context()
	acct, _ := aliceInbox(t, a)
	for i := range 40 {
		mb, err := a.CreateMailbox(ctx, acct.ID, fmt.Sprintf("Box%d", i), "")
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() {
			_, err := a.Deliver(ctx, store.Delivery{Body: []byte("m"), Targets: []store.Target{{AccountID: acct.ID, Mailbox: mb.Name}}})
			errc <- err
		}()
		ch, cancel := mustWatch(t, b, mb.ID)
		msgs, err := b.Messages(ctx, mb.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			wakeWithin(t, ch, 10*time.Second, fmt.Sprintf("mailbox %d: a delivery not read after Watch", i))
		}
		cancel()
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}

// watchRows returns the listeners registered for a mailbox.
func watchRows(t *testing.T, s *Store, mailboxID int64) []int32 {
	t.Helper()
	rows, err := s.pool.Query(t.Context(), `SELECT listener FROM mail_watches WHERE mailbox_id = $1 ORDER BY listener`, mailboxID)
	if err != nil {
		t.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatal(err)
	}
	return pids
}

// TestWatchRegistrationLifetime: a mailbox is registered once per node
// however many watch it, stays registered while watched and for the
// linger time after, and goes after that; the rows of a node that is
// gone are swept by the others.
func TestWatchRegistrationLifetime(t *testing.T) {
	dsn := pgtest.DSN(t)
	const linger = 300 * time.Millisecond
	open := func() *Store {
		s, err := Open(context.Background(), dsn, Options{watchLinger: linger})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	_, inbox := aliceInbox(t, a)
	pidA, pidB := int32(a.watches.listener.Load()), int32(b.watches.listener.Load())

	_, c1 := mustWatch(t, a, inbox.ID)
	_, c2 := mustWatch(t, a, inbox.ID)
	_, c3 := mustWatch(t, b, inbox.ID)
	if got, want := watchRows(t, a, inbox.ID), []int32{min(pidA, pidB), max(pidA, pidB)}; !slices.Equal(got, want) {
		t.Fatalf("two watches on a and one on b: registered listeners %v, want %v", got, want)
	}
	c1()
	time.Sleep(3 * linger) // sweeps run every linger/2
	if got := watchRows(t, a, inbox.ID); !slices.Contains(got, pidA) {
		t.Fatalf("a still watches after one of its two watches ended, but its row is gone: %v", got)
	}
	c2()
	c2() // twice is fine
	poll.Until(t, 10*time.Second, "a's row swept after its last watch ended", func() bool {
		return !slices.Contains(watchRows(t, a, inbox.ID), pidA)
	})
	// Watched again: registered again.
	_, c4 := mustWatch(t, a, inbox.ID)
	defer c4()
	if got := watchRows(t, a, inbox.ID); !slices.Contains(got, pidA) {
		t.Fatalf("a watches again, but is not registered: %v", got)
	}
	// b dies without cleaning up: a's sweep removes b's row.
	c3()
	b.stopListener() // its LISTEN connection closes, as when the node dies
	poll.Until(t, 10*time.Second, "the row of node b's closed listener swept", func() bool {
		return !slices.Contains(watchRows(t, a, inbox.ID), pidB)
	})
}

// TestWatchFailsWithoutDatabase: a watch that cannot be registered is
// refused with the error, leaves no count behind, and registers once
// the database answers again; a Watch whose ctx ends while it waits
// for another registration of the same key returns ctx's error.
func TestWatchFailsWithoutDatabase(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := openDSN(t, dsn), openDSN(t, dsn)
	ctx := t.Context()
	_, inbox := aliceInbox(t, a)

	// Another registration of the key holds it: a Watch with a short
	// ctx gives up.
	tx, err := a.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `SELECT 1 FROM mailboxes WHERE id = $1 FOR NO KEY UPDATE`, inbox.ID); err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() {
		_, cancel, err := b.Watch(ctx, inbox.ID)
		if err == nil {
			cancel()
		}
		first <- err
	}()
	poll.Until(t, 10*time.Second, "the first Watch waiting for the row", func() bool {
		b.watches.mu.Lock()
		defer b.watches.mu.Unlock()
		e := b.watches.m[watchKey{mailbox: inbox.ID}]
		return e != nil && len(e.sem) == 1
	})
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	second := make(chan error, 1)
	go func() {
		_, _, err := b.Watch(short, inbox.ID)
		second <- err
	}()
	select {
	case err := <-second:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Watch waiting for another registration past its deadline: %v, want context.DeadlineExceeded", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch waiting for another registration ignores its ctx: still waiting 10 s after a 200 ms deadline")
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-first; err != nil {
		t.Fatalf("the first Watch, once the row was free: %v", err)
	}

	// A closed store cannot register.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	ch, cancelB, err := b.Watch(ctx, inbox.ID+1000)
	if !errors.Is(err, store.ErrClosed) || ch != nil || cancelB != nil {
		t.Fatalf("Watch on a closed store: %v, %v, %v; want ErrClosed and nothing else", ch, cancelB != nil, err)
	}
	b.watches.mu.Lock()
	e := b.watches.m[watchKey{mailbox: inbox.ID + 1000}]
	b.watches.mu.Unlock()
	if e != nil && e.refs != 0 {
		t.Fatalf("a refused Watch left %d watches counted", e.refs)
	}
}
