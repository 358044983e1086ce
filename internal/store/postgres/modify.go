package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/flagset"
)

// Flag changes, expunges, copies and the change log (RFC 7162 CONDSTORE
// and QRESYNC). UID and id sets go to PostgreSQL as one bigint[]
// parameter, so a STORE or EXPUNGE over many messages is one statement.

// lockMailbox locks a mailbox row for the transaction (the writers of
// one mailbox, on any node, take turns) and returns its account.
func lockMailbox(ctx context.Context, tx pgx.Tx, mailboxID int64) (int64, error) {
	var accountID int64
	err := tx.QueryRow(ctx, `SELECT account_id FROM mailboxes WHERE id = $1 FOR NO KEY UPDATE`, mailboxID).Scan(&accountID)
	return accountID, notFound(err, fmt.Sprintf("mailbox %d", mailboxID))
}

// bumpModSeq takes a new MODSEQ for a mailbox.
func bumpModSeq(ctx context.Context, tx pgx.Tx, mailboxID int64) (uint64, error) {
	var ms int64
	err := tx.QueryRow(ctx, `UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = $1 RETURNING highestmodseq`,
		mailboxID).Scan(&ms)
	return uint64(ms), notFound(err, fmt.Sprintf("mailbox %d", mailboxID))
}

// stored is a message read for a change, with its flags and body.
type stored struct {
	msg   store.Message
	flags flagset.Set
	blob  int64
}

// selectMessages reads the messages of a mailbox with the given UIDs, in
// UID order. Equal flags share their Flags slice.
func selectMessages(ctx context.Context, tx pgx.Tx, mailboxID int64, uids []uint32) ([]stored, error) {
	rows, err := tx.Query(ctx, `SELECT `+messageColumns+`, m.blob_id FROM messages m
		WHERE m.mailbox_id = $1 AND m.uid = ANY($2) ORDER BY m.uid`, mailboxID, uids64(uids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		out   []stored
		lists flagset.Lists
	)
	for rows.Next() {
		var st stored
		m, err := scanMessage(rows, mailboxID, &lists, &st.blob)
		if err != nil {
			return nil, err
		}
		st.msg = m
		st.flags, _ = flagset.Parse(m.Flags)
		out = append(out, st)
	}
	return out, rows.Err()
}

// UpdateFlags implements store.Mail. Messages whose flags do not actually
// change keep their MODSEQ and are still returned in updated; all changed
// messages of one call share one new MODSEQ (RFC 7162 §3.1.3 allows that).
// The changed messages are written in groups of equal resulting flags,
// two statements a group.
func (s *Store) UpdateFlags(ctx context.Context, mailboxID int64, uids []uint32, op store.FlagOp, flags []string, unchangedSince uint64) (updated []store.Message, failed []uint32, err error) {
	if op != store.FlagsReplace && op != store.FlagsAdd && op != store.FlagsRemove {
		return nil, nil, fmt.Errorf("flag operation %d: %w", op, store.ErrInvalid)
	}
	arg, err := flagset.Parse(flags)
	if err != nil {
		return nil, nil, err
	}
	err = s.write(ctx, func(tx pgx.Tx, t *touched) error {
		updated, failed = nil, nil
		acct, err := lockMailbox(ctx, tx, mailboxID)
		if err != nil {
			return err
		}
		found, err := selectMessages(ctx, tx, mailboxID, uids)
		if err != nil {
			return err
		}
		cur := make([]flagset.Set, len(found))
		msgs := make([]store.Message, len(found))
		for i, st := range found {
			msgs[i], cur[i] = st.msg, st.flags
		}
		plan := flagset.PlanStore(msgs, cur, op, arg, unchangedSince)
		updated, failed = plan.Updated, plan.Failed
		if len(plan.Groups) == 0 {
			return nil
		}
		modseq, err := bumpModSeq(ctx, tx, mailboxID)
		if err != nil {
			return err
		}
		for _, g := range plan.Groups {
			if _, err := tx.Exec(ctx, `UPDATE messages SET sysflags = $1, keywords = $2, modseq = $3 WHERE id = ANY($4)`,
				g.Flags.Sys, g.Flags.KeywordText(), int64(modseq), g.IDs); err != nil {
				return err
			}
			if err := logChanges(ctx, tx, mailboxID, g.UIDs, modseq, store.ChangeFlags, g.Flags.Text()); err != nil {
				return err
			}
		}
		plan.SetModSeq(modseq)
		t.add(acct, mailboxID)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return updated, failed, nil
}

// logChanges records one change-log entry for each UID, replacing the
// UID's earlier entry, in one statement.
func logChanges(ctx context.Context, tx pgx.Tx, mailboxID int64, uids []uint32, modseq uint64, kind store.ChangeKind, flags string) error {
	_, err := tx.Exec(ctx, `INSERT INTO changes (mailbox_id, uid, modseq, kind, flags)
		SELECT $1, u, $2, $3, $4 FROM unnest($5::bigint[]) u
		ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq, kind = excluded.kind, flags = excluded.flags`,
		mailboxID, int64(modseq), int(kind), flags, uids64(uids))
	return err
}

// Expunge implements store.Mail.
func (s *Store) Expunge(ctx context.Context, mailboxID int64, uids []uint32) ([]uint32, error) {
	if uids != nil && len(uids) == 0 {
		return nil, s.mailboxExists(ctx, mailboxID)
	}
	var removed []uint32
	err := s.write(ctx, func(tx pgx.Tx, t *touched) error {
		removed = nil
		acct, err := lockMailbox(ctx, tx, mailboxID)
		if err != nil {
			return err
		}
		var filter []int64
		if uids != nil {
			filter = uids64(uids)
		}
		rows, err := tx.Query(ctx, `SELECT id, uid FROM messages WHERE mailbox_id = $1 AND sysflags & $2 != 0
			AND ($3::bigint[] IS NULL OR uid = ANY($3)) ORDER BY uid`, mailboxID, flagset.Deleted, filter)
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() {
			var id, uid int64
			if err := rows.Scan(&id, &uid); err != nil {
				rows.Close()
				return err
			}
			ids, removed = append(ids, id), append(removed, uint32(uid))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		return expungeIDs(ctx, tx, t, acct, mailboxID, ids, removed)
	})
	if err != nil {
		return nil, err
	}
	return removed, nil
}

// expungeIDs deletes messages of one (locked) mailbox of an account under
// one new MODSEQ and logs their UIDs. The messages_deleted trigger takes
// the counters and body references down.
func expungeIDs(ctx context.Context, tx pgx.Tx, t *touched, accountID, mailboxID int64, ids []int64, uids []uint32) error {
	if len(ids) == 0 {
		return nil
	}
	t.add(accountID, mailboxID)
	modseq, err := bumpModSeq(ctx, tx, mailboxID)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM messages WHERE id = ANY($1)`, ids); err != nil {
		return err
	}
	return logChanges(ctx, tx, mailboxID, uids, modseq, store.ChangeExpunge, "")
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
	err = s.write(ctx, func(tx pgx.Tx, t *touched) error {
		src, dst = nil, nil
		fromAcct, err := mailboxAccount(ctx, tx, fromID)
		if err != nil {
			return err
		}
		toAcct, err := mailboxAccount(ctx, tx, toID)
		if err != nil {
			return err
		}
		if fromAcct != toAcct {
			return fmt.Errorf("copy between accounts %d and %d: %w", fromAcct, toAcct, store.ErrInvalid)
		}
		if !move {
			// Sizes never change and messages only go, so this sum,
			// read before the locks, bounds what the copy adds. The
			// account is locked before the mailboxes (checkQuota).
			var size int64
			err := tx.QueryRow(ctx, `SELECT coalesce(sum(size), 0)::bigint FROM messages
				WHERE mailbox_id = $1 AND uid = ANY($2)`, fromID, uids64(uids)).Scan(&size)
			if err != nil {
				return err
			}
			if err := checkQuota(ctx, tx, map[int64]int64{toAcct: size}); err != nil {
				return fmt.Errorf("copy: %w", err)
			}
		}
		if _, err := tx.Exec(ctx, `SELECT 1 FROM mailboxes WHERE id IN ($1, $2) ORDER BY id FOR NO KEY UPDATE`, fromID, toID); err != nil {
			return err
		}
		found, err := selectMessages(ctx, tx, fromID, uids)
		if err != nil || len(found) == 0 {
			return err
		}
		msgs := make([]newMessage, len(found))
		blobs := make([]int64, len(found))
		for i, st := range found {
			msgs[i] = newMessage{mailbox: toID, flags: st.flags, size: st.msg.Size, date: st.msg.InternalDate.UnixMicro(), blob: st.blob}
			blobs[i] = st.blob
		}
		if err := allocate(ctx, tx, msgs); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE blobs SET refs = refs + c.n
			FROM (SELECT b, count(*) AS n FROM unnest($1::bigint[]) b GROUP BY b) c WHERE blobs.id = c.b`, blobs); err != nil {
			return err
		}
		if _, err := insertMessages(ctx, tx, msgs); err != nil {
			return err
		}
		t.add(toAcct, toID)
		ids := make([]int64, len(found))
		for i, st := range found {
			ids[i] = st.msg.ID
			src, dst = append(src, st.msg.UID), append(dst, msgs[i].uid)
		}
		if move {
			return expungeIDs(ctx, tx, t, fromAcct, fromID, ids, src)
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
	changes, err := queryAll(s, ctx, `SELECT modseq, uid, kind, flags FROM changes
		WHERE mailbox_id = $1 AND modseq > $2 ORDER BY modseq, uid`, []any{mailboxID, int64(since)},
		func(r pgx.Rows) (store.Change, error) {
			var c store.Change
			var flags string
			var modseq, uid int64
			var kind int
			err := r.Scan(&modseq, &uid, &kind, &flags)
			c.ModSeq, c.UID, c.Kind = uint64(modseq), uint32(uid), store.ChangeKind(kind)
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
