package storetest

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// The POP3 maildrop locks (store.MaildropLocks). Times are given, never
// waited for: t0 is an arbitrary moment, the lease a minute.

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

const lockLease = time.Minute

// lock takes the lock and fails the test on an error.
func (f *fixture) lock(accountID int64, holder string, now time.Time) bool {
	f.t.Helper()
	ok, err := f.s.LockMaildrop(f.ctx, accountID, holder, now, lockLease)
	if err != nil {
		f.t.Fatalf("LockMaildrop(%d, %q): %v", accountID, holder, err)
	}
	return ok
}

// testMaildropLockExclusive: one holder per account; other accounts are
// independent; the holder taking it again is a renewal.
func testMaildropLockExclusive(t *testing.T, f *fixture) {
	a := f.account("alice@example.org")
	b := f.account("bob@example.org")
	if !f.lock(a.ID, "session-1", t0) {
		t.Fatal("first LockMaildrop refused")
	}
	if f.lock(a.ID, "session-2", t0.Add(time.Second)) {
		t.Error("a second holder took a held lock")
	}
	if f.lock(a.ID, "session-2", t0.Add(lockLease-time.Microsecond)) {
		t.Error("a second holder took the lock a microsecond before its lease ran out")
	}
	if !f.lock(b.ID, "session-2", t0) {
		t.Error("the lock of another account was refused")
	}
	if !f.lock(a.ID, "session-1", t0.Add(30*time.Second)) {
		t.Error("the holder could not take its own lock again")
	}
	// That renewed it: 30 s + a lease.
	if f.lock(a.ID, "session-2", t0.Add(lockLease+time.Second)) {
		t.Error("taking its own lock again did not renew the lease")
	}
}

// testMaildropLockRelease: after UnlockMaildrop another holder gets in at
// once; releasing a lock one does not hold changes nothing.
func testMaildropLockRelease(t *testing.T, f *fixture) {
	a := f.account("alice@example.org")
	f.lock(a.ID, "session-1", t0)
	if err := f.s.UnlockMaildrop(f.ctx, a.ID, "session-2"); err != nil {
		t.Fatalf("UnlockMaildrop by a non-holder: %v", err)
	}
	if f.lock(a.ID, "session-2", t0.Add(time.Second)) {
		t.Fatal("UnlockMaildrop by a non-holder released the lock")
	}
	if err := f.s.UnlockMaildrop(f.ctx, a.ID, "session-1"); err != nil {
		t.Fatalf("UnlockMaildrop: %v", err)
	}
	if err := f.s.UnlockMaildrop(f.ctx, a.ID, "session-1"); err != nil {
		t.Errorf("second UnlockMaildrop: %v", err)
	}
	if !f.lock(a.ID, "session-2", t0.Add(time.Second)) {
		t.Fatal("the lock was still held after UnlockMaildrop")
	}
	wantErr(t, "RenewMaildropLock after release", f.s.RenewMaildropLock(f.ctx, a.ID, "session-1", t0.Add(2*time.Second), lockLease), store.ErrLockLost)
	if err := f.s.UnlockMaildrop(f.ctx, 999999, "nobody"); err != nil {
		t.Errorf("UnlockMaildrop of an account never locked: %v", err)
	}
}

// testMaildropLockExpiry: a lease that ran out is taken over (a dead
// holder), and the old holder has then lost it: its renewal fails and its
// release does not free the new holder's lock.
func testMaildropLockExpiry(t *testing.T, f *fixture) {
	a := f.account("alice@example.org")
	f.lock(a.ID, "dead-node", t0)
	if !f.lock(a.ID, "session-2", t0.Add(lockLease)) {
		t.Fatal("the lock was not taken over when its lease had run out")
	}
	wantErr(t, "RenewMaildropLock by the old holder", f.s.RenewMaildropLock(f.ctx, a.ID, "dead-node", t0.Add(lockLease+time.Second), lockLease), store.ErrLockLost)
	if err := f.s.UnlockMaildrop(f.ctx, a.ID, "dead-node"); err != nil {
		t.Fatal(err)
	}
	if f.lock(a.ID, "session-3", t0.Add(lockLease+time.Second)) {
		t.Error("the old holder's UnlockMaildrop released the new holder's lock")
	}
	if f.lock(a.ID, "dead-node", t0.Add(lockLease+time.Second)) {
		t.Error("the old holder took the lock back from the new one")
	}
}

// testMaildropLockRenew: renewal moves the end of the lease from the
// renewal's now; a lease that ran out untaken is renewed; a renewal of a
// lock never taken fails.
func testMaildropLockRenew(t *testing.T, f *fixture) {
	a := f.account("alice@example.org")
	wantErr(t, "RenewMaildropLock of a lock never taken", f.s.RenewMaildropLock(f.ctx, a.ID, "session-1", t0, lockLease), store.ErrLockLost)
	f.lock(a.ID, "session-1", t0)
	renew := func(at time.Time) {
		t.Helper()
		if err := f.s.RenewMaildropLock(f.ctx, a.ID, "session-1", at, lockLease); err != nil {
			t.Fatalf("RenewMaildropLock: %v", err)
		}
	}
	renew(t0.Add(50 * time.Second))
	if f.lock(a.ID, "session-2", t0.Add(lockLease+30*time.Second)) {
		t.Fatal("the lock was taken over within its renewed lease")
	}
	// Ran out at t0+110s, nobody took it: renewing is still safe.
	renew(t0.Add(3 * time.Minute))
	if f.lock(a.ID, "session-2", t0.Add(3*time.Minute+lockLease-time.Second)) {
		t.Fatal("the lock was taken over within a lease renewed after it ran out")
	}
	if !f.lock(a.ID, "session-2", t0.Add(3*time.Minute+lockLease)) {
		t.Fatal("the renewed lease did not run out")
	}
}

// testMaildropLockArgs: an empty or over-long holder and a lease that is
// not positive are ErrInvalid.
func testMaildropLockArgs(t *testing.T, f *fixture) {
	a := f.account("alice@example.org")
	_, err := f.s.LockMaildrop(f.ctx, a.ID, "", t0, lockLease)
	wantErr(t, "LockMaildrop with no holder", err, store.ErrInvalid)
	_, err = f.s.LockMaildrop(f.ctx, a.ID, strings.Repeat("h", store.MaxLockHolder+1), t0, lockLease)
	wantErr(t, "LockMaildrop with a long holder", err, store.ErrInvalid)
	_, err = f.s.LockMaildrop(f.ctx, a.ID, "h", t0, 0)
	wantErr(t, "LockMaildrop with no lease", err, store.ErrInvalid)
	wantErr(t, "RenewMaildropLock with a negative lease", f.s.RenewMaildropLock(f.ctx, a.ID, "h", t0, -time.Second), store.ErrInvalid)
	wantErr(t, "UnlockMaildrop with no holder", f.s.UnlockMaildrop(f.ctx, a.ID, ""), store.ErrInvalid)
	long := strings.Repeat("h", store.MaxLockHolder)
	if !f.lock(a.ID, long, t0) {
		t.Error("a holder of MaxLockHolder bytes was refused")
	}
	if f.lock(a.ID, long[:store.MaxLockHolder-1], t0) {
		t.Error("a holder that is a prefix of the holder's token took the lock")
	}
}

// testMaildropLockConcurrent: many holders racing for one free lock: one
// wins.
func testMaildropLockConcurrent(t *testing.T, f *fixture) {
	a := f.account("alice@example.org")
	const n = 16
	var wg sync.WaitGroup
	won := make(chan string, n)
	errs := make(chan error, n)
	for i := range n {
		holder := "racer-" + string(rune('a'+i))
		wg.Go(func() {
			ok, err := f.s.LockMaildrop(f.ctx, a.ID, holder, t0, lockLease)
			if err != nil {
				errs <- err
			} else if ok {
				won <- holder
			}
		})
	}
	wg.Wait()
	close(won)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var winners []string
	for h := range won {
		winners = append(winners, h)
	}
	if len(winners) != 1 {
		t.Fatalf("%d holders took one free lock at once: %v", len(winners), winners)
	}
	if err := f.s.RenewMaildropLock(f.ctx, a.ID, winners[0], t0.Add(time.Second), lockLease); err != nil {
		t.Errorf("the winner's renewal: %v", err)
	}
}

// testMaildropLockClosed: the lock methods fail with ErrClosed after Close.
func testMaildropLockClosed(t *testing.T, f *fixture) {
	a := f.account("alice@example.org")
	if err := f.s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := f.s.LockMaildrop(f.ctx, a.ID, "h", t0, lockLease)
	wantErr(t, "LockMaildrop after Close", err, store.ErrClosed)
	if err := f.s.UnlockMaildrop(f.ctx, a.ID, "h"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("UnlockMaildrop after Close: %v, want ErrClosed", err)
	}
}
