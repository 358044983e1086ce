package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/names"
)

// Mailboxes (the folder half of store.Mail).

// newUIDValidity takes the next value of the store-wide UIDVALIDITY
// counter (meta 'uidvalidity'), which never repeats and never runs behind
// the clock, so a mailbox deleted and recreated (even from a restored
// backup) gets a new UIDVALIDITY (RFC 3501 §2.3.1.1). The row lock
// orders nodes creating mailboxes at once.
func newUIDValidity(ctx context.Context, tx pgx.Tx) (uint32, error) {
	var v int64
	err := tx.QueryRow(ctx, `UPDATE meta SET value = greatest(value + 1, extract(epoch FROM now())::bigint)
		WHERE key = 'uidvalidity' RETURNING value`).Scan(&v)
	if err != nil {
		return 0, err
	}
	if uint32(v) == 0 { // after 2106; 0 is not a valid UIDVALIDITY
		return newUIDValidity(ctx, tx)
	}
	return uint32(v), nil
}

func createMailbox(ctx context.Context, tx pgx.Tx, accountID int64, name string, use store.SpecialUse, subscribed bool) (store.Mailbox, error) {
	uv, err := newUIDValidity(ctx, tx)
	if err != nil {
		return store.Mailbox{}, err
	}
	var id int64
	err = tx.QueryRow(ctx, `INSERT INTO mailboxes (account_id, name, special_use, uidvalidity, subscribed)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`, accountID, name, string(use), int64(uv), subscribed).Scan(&id)
	if isUniqueViolation(err) {
		return store.Mailbox{}, fmt.Errorf("mailbox %s: %w", name, store.ErrExists)
	}
	if err != nil {
		return store.Mailbox{}, err
	}
	return store.Mailbox{ID: id, AccountID: accountID, Name: name, SpecialUse: use, UIDValidity: uv, Subscribed: subscribed}, nil
}

const mailboxColumns = `id, account_id, name, special_use, uidvalidity, subscribed`

func scanMailbox(r pgx.Row) (store.Mailbox, error) {
	var mb store.Mailbox
	var use string
	var uv int64
	err := r.Scan(&mb.ID, &mb.AccountID, &mb.Name, &use, &uv, &mb.Subscribed)
	mb.SpecialUse = store.SpecialUse(use)
	mb.UIDValidity = uint32(uv)
	return mb, err
}

// Mailboxes implements store.Mail. An unknown account is ErrNotFound
// (every account has at least INBOX).
func (s *Store) Mailboxes(ctx context.Context, accountID int64) ([]store.Mailbox, error) {
	mbs, err := queryAll(s, ctx, `SELECT `+mailboxColumns+` FROM mailboxes WHERE account_id = $1 ORDER BY name`,
		[]any{accountID}, func(r pgx.Rows) (store.Mailbox, error) { return scanMailbox(r) })
	if err == nil && len(mbs) == 0 {
		err = fmt.Errorf("account %d: %w", accountID, store.ErrNotFound)
	}
	return mbs, err
}

// Mailbox implements store.Mail.
func (s *Store) Mailbox(ctx context.Context, accountID int64, name string) (store.Mailbox, error) {
	name, err := names.Mailbox(name)
	if err != nil {
		return store.Mailbox{}, err
	}
	pool, err := s.db()
	if err != nil {
		return store.Mailbox{}, err
	}
	mb, err := scanMailbox(pool.QueryRow(ctx, `SELECT `+mailboxColumns+` FROM mailboxes
		WHERE account_id = $1 AND name = $2`, accountID, name))
	return mb, s.mapErr(notFound(err, "mailbox "+name))
}

// CreateMailbox implements store.Mail.
func (s *Store) CreateMailbox(ctx context.Context, accountID int64, name string, use store.SpecialUse) (store.Mailbox, error) {
	name, err := names.NewMailbox(name, use)
	if err != nil {
		return store.Mailbox{}, err
	}
	var mb store.Mailbox
	err = s.write(ctx, func(tx pgx.Tx, t *touched) error {
		// Locked, not only read: a registration of the account's watch
		// (watch.go) then either sees the new mailbox or is seen.
		var id int64
		err := tx.QueryRow(ctx, `SELECT id FROM accounts WHERE id = $1 FOR NO KEY UPDATE`, accountID).Scan(&id)
		if err != nil {
			return notFound(err, fmt.Sprintf("account %d", accountID))
		}
		mb, err = createMailbox(ctx, tx, accountID, name, use, false)
		t.add(accountID, 0)
		return err
	})
	return mb, err
}

func accountExists(ctx context.Context, tx pgx.Tx, accountID int64) error {
	var ok bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM accounts WHERE id = $1)`, accountID).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("account %d: %w", accountID, store.ErrNotFound)
	}
	return nil
}

// RenameMailbox implements store.Mail. Children (names below
// from+store.Delimiter) move along; mailbox ids, UIDVALIDITY and messages
// stay.
func (s *Store) RenameMailbox(ctx context.Context, accountID int64, from, to string) error {
	from, to, err := names.Rename(from, to)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx pgx.Tx, t *touched) error {
		var id int64
		err := tx.QueryRow(ctx, `SELECT id FROM mailboxes WHERE account_id = $1 AND name = $2`, accountID, from).Scan(&id)
		if err != nil {
			return notFound(err, "mailbox "+from)
		}
		var taken bool
		err = tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM mailboxes WHERE account_id = $1 AND name = $2)`, accountID, to).Scan(&taken)
		if err != nil {
			return err
		}
		if taken {
			return fmt.Errorf("rename %s to %s: %w", from, to, store.ErrExists)
		}
		// A child colliding with an existing name fails the unique
		// constraint (checked at the end of the statement).
		rows, err := tx.Query(ctx, `UPDATE mailboxes SET name = $3 || substr(name, length($2) + 1)
			WHERE account_id = $1 AND (name = $2 OR starts_with(name, $2 || $4))
			RETURNING id`, accountID, from, to, store.Delimiter)
		if err == nil {
			err = touchReturned(rows, accountID, t)
		}
		if isUniqueViolation(err) {
			return fmt.Errorf("rename %s to %s: %w", from, to, store.ErrExists)
		}
		return err
	})
}

// DeleteMailbox implements store.Mail. Children stay (IMAP's DELETE
// leaves them); messages go with the mailbox.
func (s *Store) DeleteMailbox(ctx context.Context, accountID int64, name string) error {
	name, err := names.DeletableMailbox(name)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx pgx.Tx, t *touched) error {
		var id int64
		err := tx.QueryRow(ctx, `DELETE FROM mailboxes WHERE account_id = $1 AND name = $2 RETURNING id`, accountID, name).Scan(&id)
		if err != nil {
			return notFound(err, "mailbox "+name)
		}
		t.add(accountID, id)
		return nil
	})
}

// SetSubscribed implements store.Mail.
func (s *Store) SetSubscribed(ctx context.Context, accountID int64, name string, subscribed bool) error {
	name, err := names.Mailbox(name)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx pgx.Tx, t *touched) error {
		tag, err := tx.Exec(ctx, `UPDATE mailboxes SET subscribed = $1 WHERE account_id = $2 AND name = $3`, subscribed, accountID, name)
		t.add(accountID, 0)
		return mustAffect(tag, err, "mailbox "+name)
	})
}

// MailboxStatus implements store.Mail: one row, whose counters the
// writes keep in step (migrate.go).
func (s *Store) MailboxStatus(ctx context.Context, mailboxID int64) (store.MailboxStatus, error) {
	var st store.MailboxStatus
	var uidnext, uv int64
	var hms int64
	err := s.queryRow(ctx, `SELECT uidnext, uidvalidity, highestmodseq, messages, unseen, deleted, size
		FROM mailboxes WHERE id = $1`, []any{mailboxID},
		&uidnext, &uv, &hms, &st.Messages, &st.Unseen, &st.Deleted, &st.Size)
	st.UIDNext, st.UIDValidity, st.HighestModSeq = uint32(uidnext), uint32(uv), uint64(hms)
	return st, notFound(err, fmt.Sprintf("mailbox %d", mailboxID))
}

// mailboxExists is ErrNotFound for an unknown mailbox.
func (s *Store) mailboxExists(ctx context.Context, mailboxID int64) error {
	var ok bool
	if err := s.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM mailboxes WHERE id = $1)`, []any{mailboxID}, &ok); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("mailbox %d: %w", mailboxID, store.ErrNotFound)
	}
	return nil
}
