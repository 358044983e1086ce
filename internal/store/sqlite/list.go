package sqlite

import (
	"context"
	"database/sql/driver"
	"unsafe"

	"github.com/posthorn/posthorn/internal/store/flagset"

	"github.com/posthorn/posthorn/internal/store"
)

// Listing messages for IMAP: the whole mailbox or its tail (MessagesFrom)
// and the bodies for SEARCH (ForEachBody).

// flagLists interns the Flags slices of one listing (flagset.Lists).
type flagLists = flagset.Lists

// sqlMessagesFrom lists a mailbox's tail in one statement (one snapshot):
// first a row with the number of messages, so the result is allocated
// once at its exact size, then the messages in UID order. The columns
// are packed, since each column read from SQLite costs more than the
// packing: the UID with the size (a size is below 2^31, message.MaxSize)
// and the internal date with the five system-flag bits (dates are µs
// since 1970, far below 2^58).
const sqlMessagesFrom = `SELECT count(*), 0, 0, 0, NULL FROM messages WHERE mailbox_id = ?1 AND uid >= ?2
	UNION ALL
	SELECT * FROM (SELECT id, modseq, (uid << 31) | size, (internal_date << 5) | sysflags, keywords
		FROM messages WHERE mailbox_id = ?1 AND uid >= ?2 ORDER BY uid)`

// packedMessage decodes the first five columns of sqlMessagesFrom's
// message rows.
func packedMessage(mailboxID int64, row []driver.Value, flags *flagLists) store.Message {
	id, _ := row[0].(int64)
	modseq, _ := row[1].(int64)
	uidSize, _ := row[2].(int64)
	dateSys, _ := row[3].(int64)
	var kw []byte
	if k, ok := row[4].(string); ok {
		kw = unsafe.Slice(unsafe.StringData(k), len(k)) // read only, by flags.get
	}
	return store.Message{
		ID:           id,
		MailboxID:    mailboxID,
		UID:          uint32(uidSize >> 31),
		ModSeq:       uint64(modseq),
		Flags:        flags.Get(dateSys&(1<<5-1), kw),
		InternalDate: fromMicro(dateSys >> 5),
		Size:         uidSize & (1<<31 - 1),
	}
}

// MessagesFrom implements store.Mail: one query over the (mailbox_id, uid)
// index, read below database/sql (eachRow).
func (s *Store) MessagesFrom(ctx context.Context, mailboxID int64, fromUID uint32) ([]store.Message, error) {
	var (
		out   []store.Message
		first = true
		flags flagLists
	)
	err := s.eachRow(ctx, sqlMessagesFrom, namedArgs(mailboxID, int64(fromUID)), func(row []driver.Value) error {
		if first {
			first = false
			if n, _ := row[0].(int64); n > 0 {
				out = make([]store.Message, 0, n)
			}
			return nil
		}
		out = append(out, packedMessage(mailboxID, row, &flags))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) > 0 {
		return out, nil
	}
	return nil, s.mailboxExists(ctx, mailboxID)
}

// ForEachBody implements store.Mail: one query joining messages and
// blobs in UID order, read below database/sql (eachRow); body is the
// driver's fresh copy of the row's BLOB, passed on without another copy.
func (s *Store) ForEachBody(ctx context.Context, mailboxID int64, uids []uint32, fn func(m store.Message, body []byte) error) error {
	if uids != nil && len(uids) == 0 {
		return s.mailboxExists(ctx, mailboxID)
	}
	const cols = `SELECT m.id, m.modseq, (m.uid << 31) | m.size, (m.internal_date << 5) | m.sysflags, m.keywords, b.data
		FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.mailbox_id = ?`
	query, args := cols+` ORDER BY m.uid`, namedArgs(mailboxID)
	if uids != nil {
		query, args = cols+` AND m.uid IN (SELECT value FROM json_each(?)) ORDER BY m.uid`, namedArgs(mailboxID, jsonInts(uids))
	}
	var (
		flags flagLists
		n     int
	)
	err := s.eachRow(ctx, query, args, func(row []driver.Value) error {
		m := packedMessage(mailboxID, row, &flags)
		body, _ := row[5].([]byte)
		n++
		return fn(m, nonNil(body))
	})
	if err != nil || n > 0 {
		return err
	}
	return s.mailboxExists(ctx, mailboxID)
}
