package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/flagset"
)

// Reading messages for IMAP: the whole mailbox or its tail
// (MessagesFrom), single bodies, and the bodies for SEARCH (ForEachBody).

const messageColumns = `m.id, m.uid, m.modseq, m.sysflags, m.keywords, m.internal_date, m.size`

// scanMessage reads messageColumns (then extra) from r, sharing Flags
// slices through lists.
func scanMessage(r pgx.Rows, mailboxID int64, lists *flagset.Lists, extra ...any) (store.Message, error) {
	var (
		m                 store.Message
		uid, modseq, date int64
		sys               int64
		kw                []byte
	)
	err := r.Scan(append([]any{&m.ID, &uid, &modseq, &sys, &kw, &date, &m.Size}, extra...)...)
	m.MailboxID, m.UID, m.ModSeq = mailboxID, uint32(uid), uint64(modseq)
	m.Flags = lists.Get(sys, kw)
	m.InternalDate = fromMicro(date)
	return m, err
}

// Messages implements store.Mail.
func (s *Store) Messages(ctx context.Context, mailboxID int64) ([]store.Message, error) {
	return s.MessagesFrom(ctx, mailboxID, 1)
}

// MessagesFrom implements store.Mail: one query over the (mailbox_id,
// uid) index, one snapshot.
func (s *Store) MessagesFrom(ctx context.Context, mailboxID int64, fromUID uint32) ([]store.Message, error) {
	var lists flagset.Lists
	out, err := queryAll(s, ctx, `SELECT `+messageColumns+` FROM messages m
		WHERE m.mailbox_id = $1 AND m.uid >= $2 ORDER BY m.uid`, []any{mailboxID, int64(fromUID)},
		func(r pgx.Rows) (store.Message, error) { return scanMessage(r, mailboxID, &lists) })
	if err != nil || len(out) > 0 {
		return out, err
	}
	return nil, s.mailboxExists(ctx, mailboxID)
}

// MessageBody implements store.Mail.
func (s *Store) MessageBody(ctx context.Context, messageID int64) ([]byte, error) {
	var body []byte
	err := s.queryRow(ctx, `SELECT b.data FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.id = $1`,
		[]any{messageID}, &body)
	if err != nil {
		return nil, notFound(err, fmt.Sprintf("message %d", messageID))
	}
	return nonNil(body), nil
}

// uids64 converts UIDs for a bigint[] parameter.
func uids64(uids []uint32) []int64 {
	out := make([]int64, len(uids))
	for i, u := range uids {
		out[i] = int64(u)
	}
	return out
}

// ForEachBody implements store.Mail: one query joining messages and
// blobs in UID order, streamed; body is pgx's buffer of the row (valid
// until the next row), passed on without a copy.
func (s *Store) ForEachBody(ctx context.Context, mailboxID int64, uids []uint32, fn func(m store.Message, body []byte) error) error {
	if uids != nil && len(uids) == 0 {
		return s.mailboxExists(ctx, mailboxID)
	}
	pool, err := s.db()
	if err != nil {
		return err
	}
	query := `SELECT ` + messageColumns + `, b.data FROM messages m JOIN blobs b ON b.id = m.blob_id
		WHERE m.mailbox_id = $1 AND ($2::bigint[] IS NULL OR m.uid = ANY($2)) ORDER BY m.uid`
	var filter []int64
	if uids != nil {
		filter = uids64(uids)
	}
	// Stopping early cancels the query rather than reading the rest.
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rows, err := pool.Query(qctx, query, mailboxID, filter)
	if err != nil {
		return s.mapErr(err)
	}
	defer rows.Close()
	defer cancel() // runs before rows.Close
	var lists flagset.Lists
	n := 0
	for rows.Next() {
		m, err := scanMessage(rows, mailboxID, &lists, nil)
		if err != nil {
			return s.mapErr(err)
		}
		n++
		if err := fn(m, nonNil(rows.RawValues()[7])); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return s.mapErr(err)
	}
	if n > 0 {
		return nil
	}
	return s.mailboxExists(ctx, mailboxID)
}
