package pop3server

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// dropLock is a session's hold on its maildrop lock in the store (RFC 1939
// §8), which every posthorn node serving the store shares: a lease the
// session renews every third of Options.MaildropLease while it lives, so
// that the lock of a crashed node runs out within one lease. A renewal
// that finds the lock gone (another node took it over after a stall), or
// that fails for so long the lease may have run out (the database is
// down), calls lost: the session then ends without entering UPDATE.
type dropLock struct {
	st        store.MaildropLocks
	log       *slog.Logger
	accountID int64
	holder    string // random, unique to the session on every node
	lease     time.Duration
	taken     time.Time     // the start of the lease LockMaildrop gave
	stop      chan struct{} // closed to end keep
	done      chan struct{} // closed when keep has returned
}

// lockMaildrop takes accountID's maildrop lock: nil, nil when another
// session (on any node) holds it.
func (s *Server) lockMaildrop(ctx context.Context, accountID int64) (*dropLock, error) {
	l := &dropLock{st: s.store, log: s.log, accountID: accountID, holder: rand.Text(), lease: s.opts.MaildropLease, taken: time.Now()}
	ok, err := s.store.LockMaildrop(ctx, accountID, l.holder, l.taken, l.lease)
	if err != nil || !ok {
		return nil, err
	}
	return l, nil
}

// renewEvery is how often a held lock is renewed.
func (l *dropLock) renewEvery() time.Duration { return l.lease / 3 }

// keep renews the lock until stopKeeping, and calls lost once if the
// lock is, or may be, lost. It runs on its own goroutine.
//
// The renewals are due a third of a lease after the start of the lease
// last known to be ours (from LockMaildrop's now at first, however long
// opening the maildrop took), not a third of a lease after the previous
// renewal returned: a slow renewal or a goroutine that ran late does not
// push the next one back, and one that is overdue runs at once.
func (l *dropLock) keep(ctx context.Context, conn string, lost func()) {
	l.stop, l.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(l.done)
		every := l.renewEvery()
		held := l.taken // the start of the last lease known to be ours
		timer := time.NewTimer(time.Until(held.Add(every)))
		defer timer.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-timer.C:
			}
			now := time.Now()
			rctx, cancel := context.WithTimeout(ctx, every)
			err := l.st.RenewMaildropLock(rctx, l.accountID, l.holder, now, l.lease)
			cancel()
			switch {
			case err == nil:
				held = now
				timer.Reset(time.Until(held.Add(every)))
				continue
			case !errors.Is(err, store.ErrLockLost) && time.Now().Add(every).Before(held.Add(l.lease)):
				// One more try fits within the lease.
				l.log.Warn("pop3 renewing the maildrop lock", "conn", conn, "err", err)
			default:
				l.log.Error("pop3 maildrop lock lost", "conn", conn, "err", err)
				lost()
				return
			}
			timer.Reset(every)
		}
	}()
}

// stopKeeping ends keep and waits for it (at most one renewal in
// flight, bounded by renewEvery).
func (l *dropLock) stopKeeping() {
	if l.stop != nil {
		close(l.stop)
		<-l.done
		l.stop = nil
	}
}

// confirm renews the lease once more, before UPDATE deletes anything, and
// returns the end of the lease: UPDATE must be over by then.
func (l *dropLock) confirm(ctx context.Context) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, l.renewEvery())
	defer cancel()
	now := time.Now()
	if err := l.st.RenewMaildropLock(ctx, l.accountID, l.holder, now, l.lease); err != nil {
		return time.Time{}, err
	}
	return now.Add(l.lease), nil
}

// release stops the renewals and gives the lock back. Should the release
// fail (the database is down), the lock runs out with its lease.
func (l *dropLock) release(ctx context.Context, conn string) {
	l.stopKeeping()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	if err := l.st.UnlockMaildrop(ctx, l.accountID, l.holder); err != nil {
		l.log.Warn("pop3 releasing the maildrop lock", "conn", conn, "err", err)
	}
}

// releaseTimeout bounds the release of a maildrop lock.
const releaseTimeout = 10 * time.Second
