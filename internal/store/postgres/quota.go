package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/posthorn/posthorn/internal/store"
)

// Quota (RFC 9208 STORAGE): accounts.quota_bytes, and the usage as the
// sum of mailboxes.size, running counts kept in step with the messages,
// so a check reads one row per mailbox, not one per message.

// SetQuota implements store.Directory.
func (s *Store) SetQuota(ctx context.Context, address string, bytes int64) error {
	if bytes < 0 {
		return fmt.Errorf("quota %d: %w", bytes, store.ErrInvalid)
	}
	return s.writeDirectory(ctx, func(tx pgx.Tx, t *touched) error {
		var id int64
		err := tx.QueryRow(ctx, `UPDATE accounts SET quota_bytes = $1 WHERE address = $2 RETURNING id`, bytes, address).Scan(&id)
		if err != nil {
			return notFound(err, "account "+address)
		}
		t.add(id, 0)
		return nil
	})
}

// Usage implements store.Mail. Every account has INBOX, so no mailbox
// row means no account.
func (s *Store) Usage(ctx context.Context, accountID int64) (int64, error) {
	var n int
	var usage int64
	err := s.queryRow(ctx, `SELECT count(*), coalesce(sum(size), 0)::bigint FROM mailboxes WHERE account_id = $1`,
		[]any{accountID}, &n, &usage)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, fmt.Errorf("account %d: %w", accountID, store.ErrNotFound)
	}
	return usage, nil
}

// checkQuota fails with ErrOverQuota when growth[account] more bytes
// would take an account beyond its quota, and with ErrNotFound for an
// unknown account. Accounts with a quota are locked (FOR UPDATE, in id
// order, before any mailbox row) until the transaction ends, so two
// nodes delivering to one account at once cannot both slip under it;
// accounts without one are not locked.
func checkQuota(ctx context.Context, tx pgx.Tx, growth map[int64]int64) error {
	ids := make([]int64, 0, len(growth))
	for id := range growth {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	rows, err := tx.Query(ctx, `SELECT id, quota_bytes FROM accounts WHERE id = ANY($1)`, ids)
	if err != nil {
		return err
	}
	var limited []int64
	found := 0
	for rows.Next() {
		var id, quota int64
		if err := rows.Scan(&id, &quota); err != nil {
			rows.Close()
			return err
		}
		found++
		if quota > 0 {
			limited = append(limited, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if found < len(ids) {
		for _, id := range ids {
			if err := accountExists(ctx, tx, id); err != nil {
				return err
			}
		}
	}
	if len(limited) == 0 {
		return nil
	}
	slices.Sort(limited)
	rows, err = tx.Query(ctx, `SELECT a.id, a.quota_bytes,
			(SELECT coalesce(sum(size), 0)::bigint FROM mailboxes WHERE account_id = a.id)
		FROM accounts a WHERE a.id = ANY($1) ORDER BY a.id FOR NO KEY UPDATE OF a`, limited)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, quota, usage int64
		if err := rows.Scan(&id, &quota, &usage); err != nil {
			return err
		}
		if quota > 0 && usage+growth[id] > quota {
			return fmt.Errorf("account %d: %d bytes used + %d > quota %d: %w", id, usage, growth[id], quota, store.ErrOverQuota)
		}
	}
	return rows.Err()
}
