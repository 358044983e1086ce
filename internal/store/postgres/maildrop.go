package postgres

import (
	"context"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// POP3 maildrop locks (store.MaildropLocks) are lease rows in
// maildrop_locks (migration 5), one per locked account: taken with one
// INSERT ... ON CONFLICT that overwrites only an expired row (or the
// holder's own), renewed by the session, deleted at its end. A row
// outlives a crashed node only until its lease ends, and a POP3 session
// holds no pool connection between its statements. A session-level
// pg_advisory_lock was the alternative: released by PostgreSQL itself
// when the node's connection dies, but it pins one pool connection per
// open POP3 session (a thousand sessions, a thousand connections), and a
// node that hangs without losing its connection would keep the lock.
//
// The table is UNLOGGED: a lock is not mail, so taking one writes no WAL
// and waits for no flush. After a crash of the database the table is
// empty and every session's next renewal fails (store.ErrLockLost), which
// ends it without deletions; standbys never see the rows, so after a
// failover the same happens.

// maildropSchema is migration 5.
const maildropSchema = `
CREATE UNLOGGED TABLE maildrop_locks (
	account_id bigint PRIMARY KEY,
	holder     text NOT NULL,
	expires    bigint NOT NULL
);
`

func (s *Store) LockMaildrop(ctx context.Context, accountID int64, holder string, now time.Time, lease time.Duration) (bool, error) {
	if err := store.CheckMaildropLease(holder, lease); err != nil {
		return false, err
	}
	pool, err := s.db()
	if err != nil {
		return false, err
	}
	tag, err := pool.Exec(ctx, `INSERT INTO maildrop_locks (account_id, holder, expires) VALUES ($1, $2, $3)
		ON CONFLICT (account_id) DO UPDATE SET holder = excluded.holder, expires = excluded.expires
		WHERE maildrop_locks.holder = excluded.holder OR maildrop_locks.expires <= $4`,
		accountID, holder, now.Add(lease).UnixMicro(), now.UnixMicro())
	if err != nil {
		return false, s.mapErr(err)
	}
	return tag.RowsAffected() == 1, nil
}

func (s *Store) RenewMaildropLock(ctx context.Context, accountID int64, holder string, now time.Time, lease time.Duration) error {
	if err := store.CheckMaildropLease(holder, lease); err != nil {
		return err
	}
	pool, err := s.db()
	if err != nil {
		return err
	}
	tag, err := pool.Exec(ctx, `UPDATE maildrop_locks SET expires = $3 WHERE account_id = $1 AND holder = $2`,
		accountID, holder, now.Add(lease).UnixMicro())
	if err != nil {
		return s.mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrLockLost
	}
	return nil
}

func (s *Store) UnlockMaildrop(ctx context.Context, accountID int64, holder string) error {
	if err := store.CheckLockHolder(holder); err != nil {
		return err
	}
	pool, err := s.db()
	if err != nil {
		return err
	}
	_, err = pool.Exec(ctx, `DELETE FROM maildrop_locks WHERE account_id = $1 AND holder = $2`, accountID, holder)
	return s.mapErr(err)
}
