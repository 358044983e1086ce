package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/names"
)

// Mailboxes (the folder half of store.Mail).

// newUIDValidity takes the next value of the store-wide UIDVALIDITY
// counter, which never repeats and never runs behind the clock, so a
// mailbox deleted and recreated (even from a restored backup) gets a new
// UIDVALIDITY (RFC 3501 §2.3.1.1).
func newUIDValidity(w *wtx) (uint32, error) {
	var v int64
	err := w.queryRow(`UPDATE meta SET value = max(value + 1, unixepoch())
		WHERE key = 'uidvalidity' RETURNING value`).Scan(&v)
	if err != nil {
		return 0, err
	}
	if uint32(v) == 0 { // after 2106; 0 is not a valid UIDVALIDITY
		return newUIDValidity(w)
	}
	return uint32(v), nil
}

func createMailbox(w *wtx, accountID int64, name string, use store.SpecialUse, subscribed bool) (store.Mailbox, error) {
	uv, err := newUIDValidity(w)
	if err != nil {
		return store.Mailbox{}, err
	}
	id, err := w.insert(`INSERT INTO mailboxes (account_id, name, special_use, uidvalidity, subscribed)
		VALUES (?, ?, ?, ?, ?)`, accountID, name, string(use), uv, subscribed)
	if isUniqueViolation(err) {
		return store.Mailbox{}, fmt.Errorf("mailbox %s: %w", name, store.ErrExists)
	}
	if err != nil {
		return store.Mailbox{}, err
	}
	return store.Mailbox{ID: id, AccountID: accountID, Name: name, SpecialUse: use, UIDValidity: uv, Subscribed: subscribed}, nil
}

const mailboxColumns = `id, account_id, name, special_use, uidvalidity, subscribed`

func scanMailbox(r rowScanner) (store.Mailbox, error) {
	var mb store.Mailbox
	var use string
	err := r.Scan(&mb.ID, &mb.AccountID, &mb.Name, &use, &mb.UIDValidity, &mb.Subscribed)
	mb.SpecialUse = store.SpecialUse(use)
	return mb, err
}

// Mailboxes implements store.Mail. An unknown account is ErrNotFound
// (every account has at least INBOX).
func (s *Store) Mailboxes(ctx context.Context, accountID int64) ([]store.Mailbox, error) {
	rows, err := s.query(ctx, `SELECT `+mailboxColumns+` FROM mailboxes WHERE account_id = ? ORDER BY name`, accountID)
	if err != nil {
		return nil, err
	}
	mbs, err := collect(rows, func(r *sql.Rows) (store.Mailbox, error) { return scanMailbox(r) })
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
	mb, err := scanMailbox(s.queryRow(ctx, `SELECT `+mailboxColumns+` FROM mailboxes
		WHERE account_id = ? AND name = ?`, accountID, name))
	return mb, notFound(err, "mailbox "+name)
}

// CreateMailbox implements store.Mail.
func (s *Store) CreateMailbox(ctx context.Context, accountID int64, name string, use store.SpecialUse) (store.Mailbox, error) {
	name, err := names.NewMailbox(name, use)
	if err != nil {
		return store.Mailbox{}, err
	}
	var mb store.Mailbox
	err = s.write(ctx, func(w *wtx) error {
		if err := accountExists(w, accountID); err != nil {
			return err
		}
		mb, err = createMailbox(w, accountID, name, use, false)
		w.touch(accountID, 0)
		return err
	})
	return mb, err
}

func accountExists(w *wtx, accountID int64) error {
	var ok bool
	if err := w.queryRow(`SELECT EXISTS (SELECT 1 FROM accounts WHERE id = ?)`, accountID).Scan(&ok); err != nil {
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
	return s.write(ctx, func(w *wtx) error {
		var id int64
		err := w.queryRow(`SELECT id FROM mailboxes WHERE account_id = ? AND name = ?`, accountID, from).Scan(&id)
		if err != nil {
			return notFound(err, "mailbox "+from)
		}
		var taken bool
		err = w.queryRow(`SELECT EXISTS (SELECT 1 FROM mailboxes WHERE account_id = ? AND name = ?)`, accountID, to).Scan(&taken)
		if err != nil {
			return err
		}
		if taken {
			return fmt.Errorf("rename %s to %s: %w", from, to, store.ErrExists)
		}
		// A child colliding with an existing name fails the unique index.
		rows, err := w.query(`UPDATE mailboxes SET name = ?3 || substr(name, length(?2) + 1)
			WHERE account_id = ?1 AND (name = ?2 OR substr(name, 1, length(?2) + 1) = ?2 || ?4)
			RETURNING id`,
			accountID, from, to, store.Delimiter)
		if err == nil {
			err = touchReturned(w, accountID, rows)
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
	return s.write(ctx, func(w *wtx) error {
		var id int64
		err := w.queryRow(`DELETE FROM mailboxes WHERE account_id = ? AND name = ? RETURNING id`, accountID, name).Scan(&id)
		if err != nil {
			return notFound(err, "mailbox "+name)
		}
		w.touch(accountID, id)
		return nil
	})
}

// SetSubscribed implements store.Mail.
func (s *Store) SetSubscribed(ctx context.Context, accountID int64, name string, subscribed bool) error {
	name, err := names.Mailbox(name)
	if err != nil {
		return err
	}
	return s.write(ctx, func(w *wtx) error {
		res, err := w.exec(`UPDATE mailboxes SET subscribed = ? WHERE account_id = ? AND name = ?`, subscribed, accountID, name)
		w.touch(accountID, 0)
		return mustAffect(res, err, "mailbox "+name)
	})
}

// touchReturned records every mailbox id rows return as touched, and
// closes rows.
func touchReturned(w *wtx, accountID int64, rows *sql.Rows) error {
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return err
		}
		w.touch(accountID, id)
	}
	return rows.Err()
}

// MailboxStatus implements store.Mail: one row, whose counters the
// triggers on messages keep (migration 6).
func (s *Store) MailboxStatus(ctx context.Context, mailboxID int64) (store.MailboxStatus, error) {
	var st store.MailboxStatus
	err := s.queryRow(ctx, `SELECT uidnext, uidvalidity, highestmodseq, messages, unseen, deleted, size
		FROM mailboxes WHERE id = ?`, mailboxID).
		Scan(&st.UIDNext, &st.UIDValidity, &st.HighestModSeq, &st.Messages, &st.Unseen, &st.Deleted, &st.Size)
	return st, notFound(err, fmt.Sprintf("mailbox %d", mailboxID))
}
