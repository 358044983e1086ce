package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/posthorn/posthorn/internal/message"
	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/names"
)

// Storing and reading messages.

// Writer statements of the delivery path, kept as constants so the
// prepared-statement cache hits.
const (
	sqlInsertBlob = `INSERT INTO blobs (data, structure) VALUES (?, ?)`
	// Takes the next UID and MODSEQ of the named mailbox of an account,
	// falling back to INBOX when it does not exist.
	sqlNextUIDByName = `UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1
		WHERE id = (SELECT id FROM mailboxes WHERE account_id = ?1 AND name IN (?2, 'INBOX')
			ORDER BY name = 'INBOX' LIMIT 1)
		RETURNING id, uidnext - 1, highestmodseq`
	sqlNextUID = `UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1
		WHERE id = ? RETURNING account_id, uidnext - 1, highestmodseq`
	sqlInsertMessage = `INSERT INTO messages (mailbox_id, uid, modseq, sysflags, keywords, internal_date, size, blob_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
)

func internalDate(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// Deliver implements store.Mail. The body is stored once and shared by
// every target's message.
func (s *Store) Deliver(ctx context.Context, d store.Delivery) ([]store.Message, error) {
	if len(d.Targets) == 0 {
		return nil, fmt.Errorf("deliver: no targets: %w", store.ErrInvalid)
	}
	type target struct {
		accountID int64
		mailbox   string
		flags     flagSet
	}
	targets := make([]target, len(d.Targets))
	for i, t := range d.Targets {
		name := names.Target(t.Mailbox)
		fl, err := parseFlags(t.Flags)
		if err != nil {
			return nil, fmt.Errorf("deliver: %w", err)
		}
		targets[i] = target{t.AccountID, name, fl}
	}
	date := internalDate(d.InternalDate)
	body := nonNil(d.Body)
	structure := message.Structure(body)
	// Quota: what each account would grow by.
	growth := map[int64]int64{}
	for _, t := range targets {
		growth[t.accountID] += int64(len(body))
	}
	out := make([]store.Message, len(targets))
	evs := append([]store.Event(nil), d.Events...)
	err := s.write(ctx, func(w *wtx) error {
		for acct, n := range growth {
			if err := checkQuota(w, acct, n); err != nil {
				return fmt.Errorf("deliver: %w", err)
			}
		}
		blobID, err := w.insert(sqlInsertBlob, body, structure)
		if err != nil {
			return err
		}
		for i, t := range targets {
			m := store.Message{Flags: t.flags.List(), InternalDate: date.UTC().Truncate(time.Microsecond), Size: int64(len(body))}
			err := w.queryRow(sqlNextUIDByName, t.accountID, t.mailbox).Scan(&m.MailboxID, &m.UID, &m.ModSeq)
			if err != nil {
				return notFound(err, fmt.Sprintf("deliver: account %d", t.accountID))
			}
			m.ID, err = w.insert(sqlInsertMessage, m.MailboxID, m.UID, m.ModSeq, t.flags.Sys, t.flags.KeywordText(),
				date.UnixMicro(), m.Size, blobID)
			if err != nil {
				return err
			}
			w.touch(t.accountID, m.MailboxID)
			out[i] = m
		}
		if err := w.addEvents(evs, time.Now()); err != nil {
			return err
		}
		return insertIdempotency(w, d.Idempotency)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Append implements store.Mail.
func (s *Store) Append(ctx context.Context, mailboxID int64, opts store.AppendOptions, body []byte) (store.Message, error) {
	fl, err := parseFlags(opts.Flags)
	if err != nil {
		return store.Message{}, fmt.Errorf("append: %w", err)
	}
	date := internalDate(opts.InternalDate)
	body = nonNil(body)
	structure := message.Structure(body)
	m := store.Message{MailboxID: mailboxID, Flags: fl.List(), InternalDate: date.UTC().Truncate(time.Microsecond), Size: int64(len(body))}
	err = s.write(ctx, func(w *wtx) error {
		var acct int64
		err := w.queryRow(sqlNextUID, mailboxID).Scan(&acct, &m.UID, &m.ModSeq)
		if err != nil {
			return notFound(err, fmt.Sprintf("append: mailbox %d", mailboxID))
		}
		if err := checkQuota(w, acct, m.Size); err != nil {
			return fmt.Errorf("append: %w", err)
		}
		blobID, err := w.insert(sqlInsertBlob, body, structure)
		if err != nil {
			return err
		}
		m.ID, err = w.insert(sqlInsertMessage, mailboxID, m.UID, m.ModSeq, fl.Sys, fl.KeywordText(), date.UnixMicro(), m.Size, blobID)
		w.touch(acct, mailboxID)
		return err
	})
	if err != nil {
		return store.Message{}, err
	}
	return m, nil
}

// nonNil makes an empty body a zero-length BLOB rather than NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

const messageColumns = `id, mailbox_id, uid, modseq, sysflags, keywords, internal_date, size`

func scanMessage(r rowScanner, extra ...any) (store.Message, flagSet, error) {
	var m store.Message
	// Integers are scanned as int64: database/sql converts into uint32
	// and uint64 through strconv.
	var uid, modseq, sys, date int64
	var kw string
	err := r.Scan(append([]any{&m.ID, &m.MailboxID, &uid, &modseq, &sys, &kw, &date, &m.Size}, extra...)...)
	fl := storedFlags(sys, kw)
	m.UID, m.ModSeq = uint32(uid), uint64(modseq)
	m.Flags = fl.List()
	m.InternalDate = fromMicro(date)
	return m, fl, err
}

// Messages implements store.Mail.
func (s *Store) Messages(ctx context.Context, mailboxID int64) ([]store.Message, error) {
	return s.MessagesFrom(ctx, mailboxID, 1)
}

func (s *Store) mailboxExists(ctx context.Context, mailboxID int64) error {
	var ok bool
	if err := s.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM mailboxes WHERE id = ?)`, mailboxID).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("mailbox %d: %w", mailboxID, store.ErrNotFound)
	}
	return nil
}

// MessageBody implements store.Mail. The body is copied once, out of
// SQLite's memory: the driver (modernc.org/sqlite) returns each BLOB in a
// fresh slice, which sql.RawBytes hands over without database/sql's own
// copy; TestMessageBodyNotShared keeps that promise checked.
func (s *Store) MessageBody(ctx context.Context, messageID int64) ([]byte, error) {
	rows, err := s.query(ctx, `SELECT b.data FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.id = ?`, messageID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("message %d: %w", messageID, store.ErrNotFound)
	}
	var raw sql.RawBytes
	if err := rows.Scan(&raw); err != nil {
		return nil, err
	}
	return nonNil([]byte(raw)), nil
}
