package pop3server

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/testutil/linetest"
)

// The maildrop lock is the store's (dropLock): these tests run two
// servers that share nothing but the store, as two nodes would, and take
// the lock away from a session behind its back.

// lostLine is the reply a session whose lock is lost ends with.
const lostLine = "-ERR [SYS/TEMP] Maildrop lock lost, no messages deleted; log in again"

// TestInUseAcrossNodes: two servers with their own Maildrops (two
// processes) on one store refuse a second session on one maildrop; QUIT
// on one lets the other in at once.
func TestInUseAcrossNodes(t *testing.T) {
	e := newEnv(t)
	e.fill(t)
	_, addrA := e.start(t, Options{AllowPlaintextAuth: true, Maildrops: NewMaildrops()})
	_, addrB := e.start(t, Options{AllowPlaintextAuth: true, Maildrops: NewMaildrops()})
	a := dialGreeted(t, addrA)
	a.login(alice, alicePW)
	b := dialGreeted(t, addrB)
	b.cmd("USER "+alice, "+OK")
	b.cmd("PASS "+alicePW, "-ERR [IN-USE] Maildrop already in use by another POP3 session")
	a.cmd("DELE 1", "+OK")
	a.cmd("QUIT", "+OK Bye, 1 messages deleted")
	b.cmd("USER "+alice, "+OK")
	b.cmd("PASS "+alicePW, "+OK Logged in, 2 messages")
	b.cmd("QUIT", "+OK Bye, 0 messages deleted")
}

// TestLockRenewed: a session keeps its lock for longer than a lease while
// it is idle, by renewing it.
func TestLockRenewed(t *testing.T) {
	e := newEnv(t)
	e.fill(t)
	const lease = 2 * time.Second
	_, addrA := e.start(t, Options{AllowPlaintextAuth: true, MaildropLease: lease, Maildrops: NewMaildrops()})
	_, addrB := e.start(t, Options{AllowPlaintextAuth: true, MaildropLease: lease, Maildrops: NewMaildrops()})
	a := dialGreeted(t, addrA)
	a.login(alice, alicePW)
	a.cmd("DELE 1", "+OK")
	time.Sleep(lease * 5 / 2) // what is tested: idle for longer than the lease
	b := dialGreeted(t, addrB)
	b.cmd("USER "+alice, "+OK")
	b.cmd("PASS "+alicePW, "-ERR [IN-USE] ")
	a.cmd("QUIT", "+OK Bye, 1 messages deleted")
}

// TestLockTakenEndsSession: when another holder has taken the lock over
// (this session's node stalled past its lease), the session's next
// renewal notices and ends it while it waits for a command, deleting
// nothing it marked.
func TestLockTakenEndsSession(t *testing.T) {
	e := newEnv(t)
	e.fill(t)
	const lease = 600 * time.Millisecond
	_, addr := e.start(t, Options{AllowPlaintextAuth: true, MaildropLease: lease})
	c := dialGreeted(t, addr)
	c.login(alice, alicePW)
	c.cmd("DELE 1", "+OK")
	steal(t, e.st, e.alice.ID)
	c.Expect(lostLine)
	c.ExpectClosed()
	if n := len(e.inbox(t, e.alice)); n != 3 {
		t.Fatalf("INBOX has %d messages after the session lost its lock, want 3", n)
	}
}

// TestLockTakenBeforeQuit: QUIT checks the lock before it deletes, even
// when no renewal has run since it was taken.
func TestLockTakenBeforeQuit(t *testing.T) {
	e := newEnv(t)
	e.fill(t)
	_, addr := e.start(t, Options{AllowPlaintextAuth: true}) // a lease of a minute: no renewal during the test
	c := dialGreeted(t, addr)
	c.login(alice, alicePW)
	c.cmd("DELE 1", "+OK")
	steal(t, e.st, e.alice.ID)
	c.cmd("QUIT", lostLine)
	c.ExpectClosed()
	if n := len(e.inbox(t, e.alice)); n != 3 {
		t.Fatalf("INBOX has %d messages after QUIT without the lock, want 3", n)
	}
	// The session's release did not free the new holder's lock.
	if ok, err := e.st.LockMaildrop(context.Background(), e.alice.ID, "third", time.Now(), time.Minute); err != nil || ok {
		t.Fatalf("the lock another holder took was free after the session ended: %v, %v", ok, err)
	}
}

// steal takes accountID's maildrop lock as another holder would once the
// session's lease has run out: at a now an hour ahead.
func steal(t *testing.T, st store.MaildropLocks, accountID int64) {
	t.Helper()
	if ok, err := st.LockMaildrop(context.Background(), accountID, "thief", time.Now().Add(time.Hour), time.Hour); err != nil || !ok {
		t.Fatalf("taking the lock over: %v, %v", ok, err)
	}
}

// downStore is a store whose lock renewals fail while down is set, as
// with the database unreachable.
type downStore struct {
	store.Store
	down     atomic.Bool
	failures atomic.Int32
}

func (s *downStore) RenewMaildropLock(ctx context.Context, accountID int64, holder string, now time.Time, lease time.Duration) error {
	if s.down.Load() {
		s.failures.Add(1)
		return errors.New("database unreachable")
	}
	return s.Store.RenewMaildropLock(ctx, accountID, holder, now, lease)
}

func (s *downStore) LockMaildrop(ctx context.Context, accountID int64, holder string, now time.Time, lease time.Duration) (bool, error) {
	if s.down.Load() {
		return false, errors.New("database unreachable")
	}
	return s.Store.LockMaildrop(ctx, accountID, holder, now, lease)
}

// TestLockUnavailableAtLogin: a login whose lock cannot be taken (the
// database is down) is answered [SYS/TEMP], not [IN-USE] or +OK, and a
// later login works.
func TestLockUnavailableAtLogin(t *testing.T) {
	e := newEnv(t)
	e.fill(t)
	st := &downStore{Store: e.st}
	st.down.Store(true)
	srv := New(Options{Hostname: "pop.test", AllowPlaintextAuth: true}, st, e.auth)
	addr := linetest.Serve(t, srv, testTimeout)
	c := dialGreeted(t, addr)
	c.cmd("USER "+alice, "+OK")
	c.cmd("PASS "+alicePW, "-ERR [SYS/TEMP] Cannot open the maildrop, try again later")
	st.down.Store(false)
	c.cmd("USER "+alice, "+OK")
	c.cmd("PASS "+alicePW, "+OK Logged in, 3 messages")
	c.cmd("QUIT", "+OK Bye, 0 messages deleted")
}

// TestLockRenewalFailing: while renewals fail the session goes on as long
// as its lease may still hold (one failure is retried); then it ends,
// deleting nothing.
func TestLockRenewalFailing(t *testing.T) {
	e := newEnv(t)
	e.fill(t)
	st := &downStore{Store: e.st}
	const lease = 3 * time.Second
	srv := New(Options{Hostname: "pop.test", AllowPlaintextAuth: true, MaildropLease: lease}, st, e.auth)
	addr := linetest.Serve(t, srv, testTimeout)
	c := dialGreeted(t, addr)
	c.login(alice, alicePW)
	c.cmd("DELE 1", "+OK")
	st.down.Store(true)
	c.Expect(lostLine)
	c.ExpectClosed()
	if n := st.failures.Load(); n < 2 {
		t.Errorf("the session ended after %d failed renewal, want a retry first", n)
	}
	if n := len(e.inbox(t, e.alice)); n != 3 {
		t.Fatalf("INBOX has %d messages after renewals failed, want 3", n)
	}
}
