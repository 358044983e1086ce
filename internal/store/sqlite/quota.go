package sqlite

import (
	"context"
	"fmt"

	"github.com/posthorn/posthorn/internal/store"
)

// Quota (RFC 9208 STORAGE): accounts.quota_bytes, and the usage as the
// sum of mailboxes.size, a running count that the triggers on messages
// keep (migration 5), so a check reads one row per mailbox, not one per
// message.

// SetQuota implements store.Directory.
func (s *Store) SetQuota(ctx context.Context, address string, bytes int64) error {
	if bytes < 0 {
		return fmt.Errorf("quota %d: %w", bytes, store.ErrInvalid)
	}
	return s.write(ctx, func(w *wtx) error {
		var id int64
		err := w.queryRow(`UPDATE accounts SET quota_bytes = ? WHERE address = ? RETURNING id`, bytes, address).Scan(&id)
		if err != nil {
			return notFound(err, "account "+address)
		}
		w.touch(id, 0)
		return nil
	})
}

// Usage implements store.Mail. Every account has INBOX, so no mailbox
// row means no account.
func (s *Store) Usage(ctx context.Context, accountID int64) (int64, error) {
	var n int
	var usage int64
	err := s.queryRow(ctx, `SELECT count(*), coalesce(sum(size), 0) FROM mailboxes WHERE account_id = ?`, accountID).Scan(&n, &usage)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, fmt.Errorf("account %d: %w", accountID, store.ErrNotFound)
	}
	return usage, nil
}

// checkQuota fails with ErrOverQuota when add more bytes would take the
// account beyond its quota, and with ErrNotFound for an unknown account.
func checkQuota(w *wtx, accountID, add int64) error {
	var quota, usage int64
	err := w.queryRow(`SELECT quota_bytes, CASE WHEN quota_bytes > 0
			THEN (SELECT coalesce(sum(size), 0) FROM mailboxes WHERE account_id = ?1) ELSE 0 END
		FROM accounts WHERE id = ?1`, accountID).Scan(&quota, &usage)
	if err != nil {
		return notFound(err, fmt.Sprintf("account %d", accountID))
	}
	if quota > 0 && usage+add > quota {
		return fmt.Errorf("account %d: %d bytes used + %d > quota %d: %w", accountID, usage, add, quota, store.ErrOverQuota)
	}
	return nil
}
