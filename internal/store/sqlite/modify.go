package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strconv"
	"strings"

	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/flagset"
)

// Flag changes, expunges, copies and the change log (RFC 7162 CONDSTORE
// and QRESYNC). A UID or id set goes to SQLite as one JSON array bound to
// json_each, so a STORE or EXPUNGE over many messages is one query.

// jsonInts renders ids as a JSON array.
func jsonInts[T uint32 | int64](ids []T) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(int64(id), 10))
	}
	b.WriteByte(']')
	return b.String()
}

// bumpModSeq takes a new MODSEQ for a mailbox.
func bumpModSeq(w *wtx, mailboxID int64) (uint64, error) {
	var ms uint64
	err := w.queryRow(`UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ? RETURNING highestmodseq`,
		mailboxID).Scan(&ms)
	return ms, notFound(err, fmt.Sprintf("mailbox %d", mailboxID))
}

// flagKey identifies a flag set by its stored columns.
type flagKey struct {
	sys      int64
	keywords string
}

// mailboxAccount returns the account of a mailbox, or ErrNotFound.
func mailboxAccount(w *wtx, mailboxID int64) (int64, error) {
	var accountID int64
	err := w.queryRow(`SELECT account_id FROM mailboxes WHERE id = ?`, mailboxID).Scan(&accountID)
	return accountID, notFound(err, fmt.Sprintf("mailbox %d", mailboxID))
}

// selectMessages reads the messages of a mailbox with the given UIDs, in
// UID order, with their flags and body ids. The caller has checked that
// the mailbox exists. Like MessagesFrom it reads packed columns below
// database/sql, and equal flags share their Flags slice and flagSet
// (neither is modified in place).
func selectMessages(w *wtx, mailboxID int64, uids []uint32) ([]store.Message, []flagSet, []int64, error) {
	n := min(len(uids), 1<<16)
	var (
		msgs  = make([]store.Message, 0, n)
		flags = make([]flagSet, 0, n)
		blobs = make([]int64, 0, n)
		lists flagLists
		sets  = map[flagKey]flagSet{}
	)
	err := rawEach(context.Background(), w.conn, `SELECT id, modseq, (uid << 31) | size, (internal_date << 5) | sysflags, keywords, blob_id
		FROM messages WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid`,
		namedArgs(mailboxID, jsonInts(uids)), func(row []driver.Value) error {
			m := packedMessage(mailboxID, row, &lists)
			dateSys, _ := row[3].(int64)
			kw, _ := row[4].(string)
			k := flagKey{dateSys & (1<<5 - 1), kw}
			fs, ok := sets[k]
			if !ok {
				fs = storedFlags(k.sys, kw)
				sets[k] = fs
			}
			blob, _ := row[5].(int64)
			msgs, flags, blobs = append(msgs, m), append(flags, fs), append(blobs, blob)
			return nil
		})
	if err != nil {
		return nil, nil, nil, err
	}
	return msgs, flags, blobs, nil
}

// UpdateFlags implements store.Mail. Messages whose flags do not actually
// change keep their MODSEQ and are still returned in updated; all changed
// messages of one call share one new MODSEQ (RFC 7162 §3.1.3 allows that).
// The changed messages are written in groups of equal resulting flags,
// two statements a group (see setFlags), so a STORE over a whole big
// mailbox costs a few statements, not two per message.
func (s *Store) UpdateFlags(ctx context.Context, mailboxID int64, uids []uint32, op store.FlagOp, flags []string, unchangedSince uint64) (updated []store.Message, failed []uint32, err error) {
	if op != store.FlagsReplace && op != store.FlagsAdd && op != store.FlagsRemove {
		return nil, nil, fmt.Errorf("flag operation %d: %w", op, store.ErrInvalid)
	}
	arg, err := parseFlags(flags)
	if err != nil {
		return nil, nil, err
	}
	err = s.write(ctx, func(w *wtx) error {
		updated, failed = nil, nil
		acct, err := mailboxAccount(w, mailboxID)
		if err != nil {
			return err
		}
		msgs, cur, _, err := selectMessages(w, mailboxID, uids)
		if err != nil {
			return err
		}
		plan := flagset.PlanStore(msgs, cur, op, arg, unchangedSince)
		updated, failed = plan.Updated, plan.Failed
		if len(plan.Groups) == 0 {
			return nil
		}
		modseq, err := bumpModSeq(w, mailboxID)
		if err != nil {
			return err
		}
		for _, g := range plan.Groups {
			if err := setFlags(w, mailboxID, modseq, g); err != nil {
				return err
			}
		}
		plan.SetModSeq(modseq)
		w.touch(acct, mailboxID)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return updated, failed, nil
}

// setFlags writes one group's flags and MODSEQ and logs the change, in
// two statements whatever the group's size.
func setFlags(w *wtx, mailboxID int64, modseq uint64, g *flagset.Group) error {
	if _, err := w.exec(`UPDATE messages SET sysflags = ?, keywords = ?, modseq = ?
		WHERE id IN (SELECT value FROM json_each(?))`, g.Flags.Sys, g.Flags.KeywordText(), modseq, jsonInts(g.IDs)); err != nil {
		return err
	}
	return logChanges(w, mailboxID, g.UIDs, modseq, store.ChangeFlags, g.Flags.Text())
}

// logChanges records one change-log entry for each UID, replacing the
// UID's earlier entry, in one statement.
func logChanges(w *wtx, mailboxID int64, uids []uint32, modseq uint64, kind store.ChangeKind, flags string) error {
	_, err := w.exec(`INSERT INTO changes (mailbox_id, uid, modseq, kind, flags)
		SELECT ?, value, ?, ?, ? FROM json_each(?) WHERE true
		ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq, kind = excluded.kind, flags = excluded.flags`,
		mailboxID, modseq, kind, flags, jsonInts(uids))
	return err
}

// Expunge implements store.Mail.
func (s *Store) Expunge(ctx context.Context, mailboxID int64, uids []uint32) ([]uint32, error) {
	if uids != nil && len(uids) == 0 {
		return nil, s.mailboxExists(ctx, mailboxID)
	}
	var removed []uint32
	err := s.write(ctx, func(w *wtx) error {
		removed = nil
		var q string
		args := []any{mailboxID, flagDeleted}
		if uids == nil {
			q = `SELECT id, uid FROM messages WHERE mailbox_id = ? AND sysflags & ? != 0 ORDER BY uid`
		} else {
			q = `SELECT id, uid FROM messages WHERE mailbox_id = ? AND sysflags & ? != 0
				AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid`
			args = append(args, jsonInts(uids))
		}
		acct, err := mailboxAccount(w, mailboxID)
		if err != nil {
			return err
		}
		rows, err := w.query(q, args...)
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() {
			var id int64
			var uid uint32
			if err := rows.Scan(&id, &uid); err != nil {
				rows.Close()
				return err
			}
			ids, removed = append(ids, id), append(removed, uid)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		return expungeIDs(w, acct, mailboxID, ids, removed)
	})
	if err != nil {
		return nil, err
	}
	return removed, nil
}

// expungeIDs deletes messages of one mailbox of an account under one new
// MODSEQ and logs their UIDs.
func expungeIDs(w *wtx, accountID, mailboxID int64, ids []int64, uids []uint32) error {
	if len(ids) == 0 {
		return nil
	}
	w.touch(accountID, mailboxID)
	modseq, err := bumpModSeq(w, mailboxID)
	if err != nil {
		return err
	}
	if _, err := w.exec(`DELETE FROM messages WHERE id IN (SELECT value FROM json_each(?))`, jsonInts(ids)); err != nil {
		return err
	}
	return logChanges(w, mailboxID, uids, modseq, store.ChangeExpunge, "")
}

// Copy implements store.Mail.
func (s *Store) Copy(ctx context.Context, fromMailboxID int64, uids []uint32, toMailboxID int64) (src, dst []uint32, err error) {
	return s.copy(ctx, fromMailboxID, uids, toMailboxID, false)
}

// Move implements store.Mail (RFC 6851): one transaction, so the messages
// are never in both mailboxes or in neither.
func (s *Store) Move(ctx context.Context, fromMailboxID int64, uids []uint32, toMailboxID int64) (src, dst []uint32, err error) {
	return s.copy(ctx, fromMailboxID, uids, toMailboxID, true)
}

func (s *Store) copy(ctx context.Context, fromID int64, uids []uint32, toID int64, move bool) (src, dst []uint32, err error) {
	err = s.write(ctx, func(w *wtx) error {
		src, dst = nil, nil
		fromAcct, err := mailboxAccount(w, fromID)
		if err != nil {
			return err
		}
		toAcct, err := mailboxAccount(w, toID)
		if err != nil {
			return err
		}
		if fromAcct != toAcct {
			return fmt.Errorf("copy between accounts %d and %d: %w", fromAcct, toAcct, store.ErrInvalid)
		}
		msgs, flags, blobs, err := selectMessages(w, fromID, uids)
		if err != nil || len(msgs) == 0 {
			return err
		}
		if !move {
			var size int64
			for _, m := range msgs {
				size += m.Size
			}
			if err := checkQuota(w, toAcct, size); err != nil {
				return fmt.Errorf("copy: %w", err)
			}
		}
		w.touch(toAcct, toID)
		n := int64(len(msgs))
		var first uint32
		var modseq uint64
		err = w.queryRow(`UPDATE mailboxes SET uidnext = uidnext + ?2, highestmodseq = highestmodseq + 1
			WHERE id = ?1 RETURNING uidnext - ?2, highestmodseq`, toID, n).Scan(&first, &modseq)
		if err != nil {
			return err
		}
		ids := make([]int64, len(msgs))
		for i, m := range msgs {
			uid := first + uint32(i)
			if _, err := w.exec(sqlInsertMessage, toID, uid, modseq, flags[i].Sys, flags[i].KeywordText(),
				m.InternalDate.UnixMicro(), m.Size, blobs[i]); err != nil {
				return err
			}
			ids[i] = m.ID
			src, dst = append(src, m.UID), append(dst, uid)
		}
		if move {
			return expungeIDs(w, fromAcct, fromID, ids, src)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return src, dst, nil
}

// Changes implements store.Mail. The log keeps the latest entry per UID:
// a later flag change or the expunge replaces earlier entries, which is
// all CONDSTORE and QRESYNC need to answer "what changed since N".
func (s *Store) Changes(ctx context.Context, mailboxID int64, since uint64) ([]store.Change, error) {
	rows, err := s.query(ctx, `SELECT modseq, uid, kind, flags FROM changes
		WHERE mailbox_id = ? AND modseq > ? ORDER BY modseq, uid`, mailboxID, since)
	if err != nil {
		return nil, err
	}
	changes, err := collect(rows, func(r *sql.Rows) (store.Change, error) {
		var c store.Change
		var flags string
		err := r.Scan(&c.ModSeq, &c.UID, &c.Kind, &flags)
		if c.Kind == store.ChangeFlags {
			c.Flags = strings.Fields(flags)
		}
		return c, err
	})
	if err != nil || len(changes) > 0 {
		return changes, err
	}
	return nil, s.mailboxExists(ctx, mailboxID)
}
