package pop3server

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/store"
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

// TestLockRenewed: a session keeps its lock past the end of the lease it
// took at login while it is idle, by renewing it. The test follows the
// renewals as they happen instead of sleeping for longer than a lease: a
// renewal that comes late (a loaded machine) makes it wait longer, not
// fail. Another node then tries the maildrop right after a renewal, so
// only a session that went a whole lease without renewing lets it in.
func TestLockRenewed(t *testing.T) {
	e := newEnv(t)
	e.fill(t)
	st := newLockStore(e.st)
	const lease = 3 * time.Second
	_, addrA := startOn(t, st, e.auth, Options{AllowPlaintextAuth: true, MaildropLease: lease, Maildrops: NewMaildrops()})
	_, addrB := startOn(t, st, e.auth, Options{AllowPlaintextAuth: true, MaildropLease: lease, Maildrops: NewMaildrops()})
	a := dialGreeted(t, addrA)
	a.login(alice, alicePW)
	taken := receive(t, st.taken, "the lock taken at login")
	a.cmd("DELE 1", "+OK")
	// Wait for a renewal after the end of the lease taken at login.
	for deadline := time.After(testTimeout); ; {
		var at time.Time
		select {
		case at = <-st.renewed:
		case <-deadline:
			t.Fatalf("no renewal of the lock after the end of its first lease, %v after it was taken", testTimeout)
		}
		if at.After(taken.Add(lease)) {
			break
		}
	}
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
	// Renewed every second: long enough that no renewal of a loaded
	// machine fails on its own before the lock is taken (each has a third
	// of a lease to return), short enough that the test is quick.
	const lease = 3 * time.Second
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

// TestLockRenewalDueFromLeaseStart: the first renewal is due a third of a
// lease after the lock was taken, not a third of a lease after the session
// began to keep it: opening a large maildrop between the two can take a
// good part of the lease.
func TestLockRenewalDueFromLeaseStart(t *testing.T) {
	e := newEnv(t)
	st := newLockStore(e.st)
	const lease = time.Minute
	srv := New(Options{Hostname: "pop.test", MaildropLease: lease}, st, e.auth)
	l, err := srv.lockMaildrop(context.Background(), e.alice.ID)
	if err != nil || l == nil {
		t.Fatalf("lockMaildrop: %v, %v", l, err)
	}
	receive(t, st.taken, "the lock to be taken")
	l.taken = l.taken.Add(-lease / 3) // as if the maildrop took that long to open
	l.keep(context.Background(), "test", func() { t.Error("lock lost") })
	defer l.stopKeeping()
	// Due now; 20 s after keep began for a renewal timed from there.
	receive(t, st.renewed, "the overdue first renewal")
}

// steal takes accountID's maildrop lock as another holder would once the
// session's lease has run out: at a now an hour ahead.
func steal(t *testing.T, st store.MaildropLocks, accountID int64) {
	t.Helper()
	if ok, err := st.LockMaildrop(context.Background(), accountID, "thief", time.Now().Add(time.Hour), time.Hour); err != nil || !ok {
		t.Fatalf("taking the lock over: %v, %v", ok, err)
	}
}

// lockStore is the store of the lock tests. It reports the now of each
// maildrop lock taken and of each successful renewal, and fails renewals
// and new locks while down is set, as with the database unreachable.
type lockStore struct {
	store.Store
	down     atomic.Bool
	failures atomic.Int32   // renewals that failed because of down
	taken    chan time.Time // LockMaildrop's now, when it took the lock
	renewed  chan time.Time // RenewMaildropLock's now, when it succeeded

	mu        sync.Mutex
	held      time.Time // the now of the last lock taken or renewed
	firstFail time.Time // when the first renewal failed because of down
	heldThen  time.Time // held at firstFail
}

// retryFitted reports whether another try, every after the first failed
// renewal, started within the lease held then: what the session checks
// (dropLock.keep) once the failure has returned, a moment later.
func (s *lockStore) retryFitted(every, lease time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.firstFail.IsZero() && s.firstFail.Add(every).Before(s.heldThen.Add(lease))
}

// holds records now as the start of the last lease known to be held.
func (s *lockStore) holds(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held = now
}

func newLockStore(st store.Store) *lockStore {
	return &lockStore{Store: st, taken: make(chan time.Time, 100), renewed: make(chan time.Time, 100)}
}

func (s *lockStore) RenewMaildropLock(ctx context.Context, accountID int64, holder string, now time.Time, lease time.Duration) error {
	if s.down.Load() {
		s.mu.Lock()
		if s.failures.Add(1) == 1 {
			s.firstFail, s.heldThen = time.Now(), s.held
		}
		s.mu.Unlock()
		return errors.New("database unreachable")
	}
	err := s.Store.RenewMaildropLock(ctx, accountID, holder, now, lease)
	if err == nil {
		s.holds(now)
		report(s.renewed, now)
	}
	return err
}

func (s *lockStore) LockMaildrop(ctx context.Context, accountID int64, holder string, now time.Time, lease time.Duration) (bool, error) {
	if s.down.Load() {
		return false, errors.New("database unreachable")
	}
	ok, err := s.Store.LockMaildrop(ctx, accountID, holder, now, lease)
	if ok {
		s.holds(now)
		report(s.taken, now)
	}
	return ok, err
}

// report sends t without ever blocking the server: a test reads the
// first of at most 100 events.
func report(ch chan time.Time, t time.Time) {
	select {
	case ch <- t:
	default:
	}
}

// receive waits up to testTimeout for what.
func receive(t *testing.T, ch chan time.Time, what string) time.Time {
	t.Helper()
	select {
	case at := <-ch:
		return at
	case <-time.After(testTimeout):
		t.Fatalf("timed out after %v waiting for %s", testTimeout, what)
		return time.Time{}
	}
}

// TestLockUnavailableAtLogin: a login whose lock cannot be taken (the
// database is down) is answered [SYS/TEMP], not [IN-USE] or +OK, and a
// later login works.
func TestLockUnavailableAtLogin(t *testing.T) {
	e := newEnv(t)
	e.fill(t)
	st := newLockStore(e.st)
	st.down.Store(true)
	_, addr := startOn(t, st, e.auth, Options{AllowPlaintextAuth: true})
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
// deleting nothing. Whether a retry fits depends on when the first
// failing renewal returns: a machine that stalled it for more than a
// third of the lease leaves no room for one, and the session is right to
// end at once. Such a run proves nothing about the retry, and is tried
// again; a run where the retry fitted must have one.
func TestLockRenewalFailing(t *testing.T) {
	e := newEnv(t)
	e.fill(t)
	// Renewed every 2 s: the retry fits unless the first failing renewal
	// returns more than 2 s late.
	const lease = 6 * time.Second
	for attempt := 1; ; attempt++ {
		st := newLockStore(e.st)
		_, addr := startOn(t, st, e.auth, Options{AllowPlaintextAuth: true, MaildropLease: lease})
		c := dialGreeted(t, addr)
		c.login(alice, alicePW)
		c.cmd("DELE 1", "+OK")
		st.down.Store(true)
		c.Expect(lostLine)
		c.ExpectClosed()
		if n := len(e.inbox(t, e.alice)); n != 3 {
			t.Fatalf("INBOX has %d messages after renewals failed, want 3", n)
		}
		n := st.failures.Load()
		fitted := st.retryFitted(lease/3, lease)
		switch {
		case n >= 2:
			return
		case fitted:
			t.Fatalf("the session ended after %d failed renewal, though a retry fitted within the lease", n)
		case attempt == 3:
			t.Fatalf("%d runs, each with its first failing renewal too late for a retry: the machine stalls timers by more than %v", attempt, lease/3)
		}
		t.Logf("run %d: the first failing renewal came too late for a retry; again", attempt)
	}
}
