package sqlite

import (
	"context"
	"database/sql"

	"github.com/posthorn/posthorn/internal/store"
)

// Listing messages for IMAP: the whole mailbox or its tail (MessagesFrom)
// and the bodies for SEARCH (ForEachBody).

// flagLists interns Message.Flags within one listing: messages with the
// same flags share one slice (store.Message.Flags is read-only), so a
// 100,000-message mailbox costs a handful of flag slices, not 100,000.
type flagLists struct {
	bySys [flagDraft << 1][]string            // system flags only, by bit set
	other [flagDraft << 1]map[string][]string // with keywords, by bit set and keywords
}

func (fl *flagLists) get(sys int64, keywords []byte) []string {
	if sys < 0 || sys >= int64(len(fl.bySys)) { // not written by this package
		return storedFlags(sys, string(keywords)).list()
	}
	if len(keywords) == 0 {
		if l := fl.bySys[sys]; l != nil {
			return l
		}
		l := storedFlags(sys, "").list()
		fl.bySys[sys] = l
		return l
	}
	if l, ok := fl.other[sys][string(keywords)]; ok { // no allocation
		return l
	}
	if fl.other[sys] == nil {
		fl.other[sys] = map[string][]string{}
	}
	kw := string(keywords)
	l := storedFlags(sys, kw).list()
	fl.other[sys][kw] = l
	return l
}

const sqlMessagesFrom = `SELECT id, uid, modseq, sysflags, keywords, internal_date, size
	FROM messages WHERE mailbox_id = ? AND uid >= ? ORDER BY uid`

// MessagesFrom implements store.Mail: one query over the (mailbox_id, uid)
// index.
func (s *Store) MessagesFrom(ctx context.Context, mailboxID int64, fromUID uint32) ([]store.Message, error) {
	rows, err := s.query(ctx, sqlMessagesFrom, mailboxID, fromUID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		out   []store.Message
		flags flagLists
		sys   int64
		date  int64
		kw    sql.RawBytes
	)
	for rows.Next() {
		m := store.Message{MailboxID: mailboxID}
		if err := rows.Scan(&m.ID, &m.UID, &m.ModSeq, &sys, &kw, &date, &m.Size); err != nil {
			return nil, err
		}
		m.Flags = flags.get(sys, kw)
		m.InternalDate = fromMicro(date)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) > 0 {
		return out, nil
	}
	return nil, s.mailboxExists(ctx, mailboxID)
}

// ForEachBody implements store.Mail: one query joining messages and
// blobs in UID order; body is the driver's buffer for the row, passed on
// without a copy.
func (s *Store) ForEachBody(ctx context.Context, mailboxID int64, uids []uint32, fn func(m store.Message, body []byte) error) error {
	if uids != nil && len(uids) == 0 {
		return s.mailboxExists(ctx, mailboxID)
	}
	const cols = `SELECT m.id, m.uid, m.modseq, m.sysflags, m.keywords, m.internal_date, m.size, b.data
		FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.mailbox_id = ?`
	var (
		rows *sql.Rows
		err  error
	)
	if uids == nil {
		rows, err = s.query(ctx, cols+` ORDER BY m.uid`, mailboxID)
	} else {
		rows, err = s.query(ctx, cols+` AND m.uid IN (SELECT value FROM json_each(?)) ORDER BY m.uid`,
			mailboxID, jsonInts(uids))
	}
	if err != nil {
		return err
	}
	defer rows.Close()
	var (
		flags flagLists
		sys   int64
		date  int64
		kw    sql.RawBytes
		body  sql.RawBytes
		n     int
	)
	for rows.Next() {
		m := store.Message{MailboxID: mailboxID}
		if err := rows.Scan(&m.ID, &m.UID, &m.ModSeq, &sys, &kw, &date, &m.Size, &body); err != nil {
			return err
		}
		m.Flags = flags.get(sys, kw)
		m.InternalDate = fromMicro(date)
		if err := fn(m, nonNil(body)); err != nil {
			return err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if n == 0 {
		return s.mailboxExists(ctx, mailboxID)
	}
	return nil
}
