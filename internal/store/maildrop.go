package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrLockLost: a maildrop lock's holder no longer holds it (released, or
// its lease ran out and another holder took it).
var ErrLockLost = errors.New("maildrop lock not held")

// MaildropLocks are the POP3 maildrop locks (RFC 1939 §8: one session at a
// time may hold an account's maildrop), shared by every process serving
// the store, so a second login on another node is refused as on the same
// one.
//
// A lock is a lease: it belongs to one holder, a token the caller makes
// unique to one session across every node (random), until a moment the
// holder moves on by renewing it. A holder that dies without releasing
// (a crashed node) keeps the lock only until its lease runs out; then the
// next LockMaildrop takes it over. Times are the caller's clock (now), so
// the nodes' clocks must agree to well within a lease.
//
// The lock is keyed by account ID alone: it does not check that the
// account exists. holder must not be empty and lease must be positive
// (ErrInvalid otherwise: CheckMaildropLease, CheckLockHolder).
type MaildropLocks interface {
	// LockMaildrop takes accountID's maildrop lock for holder until
	// now+lease and reports true. It reports false, without error, while
	// another holder has the lock with a lease that has not run out at
	// now; a lock whose lease has run out is taken over. Taking a lock
	// the same holder has renews it.
	LockMaildrop(ctx context.Context, accountID int64, holder string, now time.Time, lease time.Duration) (bool, error)
	// RenewMaildropLock moves the end of holder's lease to now+lease. It
	// fails with ErrLockLost when holder does not have the lock (any
	// more). A lease that ran out but that nobody took over is renewed:
	// no other holder had the maildrop meanwhile.
	RenewMaildropLock(ctx context.Context, accountID int64, holder string, now time.Time, lease time.Duration) error
	// UnlockMaildrop releases holder's lock at once. It does nothing, and
	// returns nil, when holder does not have the lock (any more).
	UnlockMaildrop(ctx context.Context, accountID int64, holder string) error
}

// MaxLockHolder is the longest holder token a backend must keep.
const MaxLockHolder = 128

// CheckLockHolder checks a holder token: ErrInvalid unless 1 to
// MaxLockHolder bytes.
func CheckLockHolder(holder string) error {
	if holder == "" || len(holder) > MaxLockHolder {
		return fmt.Errorf("%w: maildrop lock holder must be 1 to %d bytes", ErrInvalid, MaxLockHolder)
	}
	return nil
}

// CheckMaildropLease checks the arguments of LockMaildrop and
// RenewMaildropLock: the holder, and a positive lease (ErrInvalid).
func CheckMaildropLease(holder string, lease time.Duration) error {
	if lease <= 0 {
		return fmt.Errorf("%w: maildrop lock lease must be positive", ErrInvalid)
	}
	return CheckLockHolder(holder)
}
