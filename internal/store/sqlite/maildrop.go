package sqlite

import (
	"context"
	"sync"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// maildropLocks are the POP3 maildrop locks (store.MaildropLocks), kept in
// memory: the embedded store is served by one process (several nodes
// share PostgreSQL, not a SQLite file; a CLI beside the server runs no
// POP3 sessions), so a lock needs no write and no fsync, and a crash
// ends every session with it. The leases are kept all the same, for the
// same contract as the PostgreSQL backend's (the conformance suite).
type maildropLocks struct {
	mu    sync.Mutex
	locks map[int64]maildropLease // by account ID
}

type maildropLease struct {
	holder string
	until  time.Time
}

func (s *Store) LockMaildrop(ctx context.Context, accountID int64, holder string, now time.Time, lease time.Duration) (bool, error) {
	if err := s.maildropCall(ctx, store.CheckMaildropLease(holder, lease)); err != nil {
		return false, err
	}
	m := &s.maildrops
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.locks[accountID]; ok && l.holder != holder && now.Before(l.until) {
		return false, nil
	}
	if m.locks == nil {
		m.locks = map[int64]maildropLease{}
	}
	m.locks[accountID] = maildropLease{holder: holder, until: now.Add(lease)}
	return true, nil
}

func (s *Store) RenewMaildropLock(ctx context.Context, accountID int64, holder string, now time.Time, lease time.Duration) error {
	if err := s.maildropCall(ctx, store.CheckMaildropLease(holder, lease)); err != nil {
		return err
	}
	m := &s.maildrops
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.locks[accountID]; !ok || l.holder != holder {
		return store.ErrLockLost
	}
	m.locks[accountID] = maildropLease{holder: holder, until: now.Add(lease)}
	return nil
}

func (s *Store) UnlockMaildrop(ctx context.Context, accountID int64, holder string) error {
	if err := s.maildropCall(ctx, store.CheckLockHolder(holder)); err != nil {
		return err
	}
	m := &s.maildrops
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.locks[accountID]; ok && l.holder == holder {
		delete(m.locks, accountID)
	}
	return nil
}

// maildropCall is what the lock methods check before they touch the locks:
// the argument check's error, the store being open, ctx.
func (s *Store) maildropCall(ctx context.Context, argErr error) error {
	if argErr != nil {
		return argErr
	}
	if s.isClosed.Load() {
		return store.ErrClosed
	}
	return ctx.Err()
}
