package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/posthorn/posthorn/internal/message"
	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/flagset"
	"github.com/posthorn/posthorn/internal/store/names"
)

// Storing messages: Deliver and Append.

func internalDate(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// newMessage is one message row to insert.
type newMessage struct {
	mailbox int64
	flags   flagset.Set
	size    int64
	date    int64 // µs
	blob    int64
	uid     uint32 // set by allocate
	modseq  uint64 // set by allocate
}

// allocate takes UIDs and a MODSEQ for msgs (mailbox, flags and size
// set), one UPDATE per mailbox in id order (the lock order every writer
// keeps, so concurrent writers to several mailboxes do not deadlock), and
// adds the messages to the mailbox's STATUS counters in the same UPDATE.
// Messages of one mailbox take consecutive UIDs in msgs order and share
// one new MODSEQ. A mailbox that does not exist is ErrNotFound.
func allocate(ctx context.Context, tx pgx.Tx, msgs []newMessage) error {
	type count struct {
		n, unseen, deleted int
		size               int64
	}
	counts := map[int64]*count{}
	var ids []int64
	for _, m := range msgs {
		c := counts[m.mailbox]
		if c == nil {
			c = &count{}
			counts[m.mailbox] = c
			ids = append(ids, m.mailbox)
		}
		c.n++
		c.size += m.size
		if m.flags.Sys&flagset.Seen == 0 {
			c.unseen++
		}
		if m.flags.Sys&flagset.Deleted != 0 {
			c.deleted++
		}
	}
	slices.Sort(ids)
	next := map[int64]uint32{}
	modseqs := map[int64]uint64{}
	for _, id := range ids {
		c := counts[id]
		var first, modseq int64
		err := tx.QueryRow(ctx, `UPDATE mailboxes SET uidnext = uidnext + $2, highestmodseq = highestmodseq + 1,
				size = size + $3, messages = messages + $2, unseen = unseen + $4, deleted = deleted + $5
			WHERE id = $1 RETURNING uidnext - $2, highestmodseq`,
			id, c.n, c.size, c.unseen, c.deleted).Scan(&first, &modseq)
		if err != nil {
			return notFound(err, fmt.Sprintf("mailbox %d", id))
		}
		next[id], modseqs[id] = uint32(first), uint64(modseq)
	}
	for i := range msgs {
		m := &msgs[i]
		m.uid, m.modseq = next[m.mailbox], modseqs[m.mailbox]
		next[m.mailbox]++
	}
	return nil
}

// insertBlob stores a body with refs references and returns its id.
func insertBlob(ctx context.Context, tx pgx.Tx, refs int, body, structure []byte) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO blobs (refs, data, structure) VALUES ($1, $2, $3) RETURNING id`,
		refs, body, structure).Scan(&id)
	return id, err
}

// insertMessages inserts msgs (allocated, with their blob, whose refs
// already count them) in one statement and returns their ids in msgs
// order.
func insertMessages(ctx context.Context, tx pgx.Tx, msgs []newMessage) ([]int64, error) {
	n := len(msgs)
	var (
		mailboxes, uids, modseqs = make([]int64, n), make([]int64, n), make([]int64, n)
		sys, dates, sizes, blobs = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		kws                      = make([]string, n)
	)
	for i, m := range msgs {
		mailboxes[i], uids[i], modseqs[i] = m.mailbox, int64(m.uid), int64(m.modseq)
		sys[i], kws[i], dates[i], sizes[i], blobs[i] = m.flags.Sys, m.flags.KeywordText(), m.date, m.size, m.blob
	}
	rows, err := tx.Query(ctx, `INSERT INTO messages (mailbox_id, uid, modseq, sysflags, keywords, internal_date, size, blob_id)
		SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::integer[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[])
		RETURNING mailbox_id, uid, id`, mailboxes, uids, modseqs, sys, kws, dates, sizes, blobs)
	if err != nil {
		return nil, err
	}
	type key struct{ mailbox, uid int64 }
	byKey := make(map[key]int64, n)
	for rows.Next() {
		var k key
		var id int64
		if err := rows.Scan(&k.mailbox, &k.uid, &id); err != nil {
			rows.Close()
			return nil, err
		}
		byKey[k] = id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	ids := make([]int64, n)
	for i := range msgs {
		ids[i] = byKey[key{mailboxes[i], uids[i]}]
	}
	return ids, nil
}

// Deliver implements store.Mail. The body is stored once and shared by
// every target's message.
func (s *Store) Deliver(ctx context.Context, d store.Delivery) ([]store.Message, error) {
	if len(d.Targets) == 0 {
		return nil, fmt.Errorf("deliver: no targets: %w", store.ErrInvalid)
	}
	date := internalDate(d.InternalDate)
	body := nonNil(d.Body)
	size := int64(len(body))
	structure := message.Structure(body)
	msgs := make([]newMessage, len(d.Targets))
	accounts := make([]int64, len(d.Targets))
	boxNames := make([]string, len(d.Targets))
	for i, t := range d.Targets {
		name := names.Target(t.Mailbox)
		fl, err := flagset.Parse(t.Flags)
		if err != nil {
			return nil, fmt.Errorf("deliver: %w", err)
		}
		msgs[i].flags, msgs[i].size, msgs[i].date = fl, size, date.UnixMicro()
		accounts[i], boxNames[i] = t.AccountID, name
	}
	out := make([]store.Message, len(msgs))
	for i, m := range msgs {
		out[i] = store.Message{Flags: m.flags.List(), InternalDate: fromMicro(m.date), Size: size}
	}
	r := &deliverReq{accounts: accounts, names: boxNames, body: body, structure: structure, date: date.UnixMicro(), out: out,
		sysflags: make([]int32, len(msgs)), keywords: make([]string, len(msgs))}
	for i, m := range msgs {
		r.sysflags[i], r.keywords[i] = int32(m.flags.Sys), m.flags.KeywordText()
	}
	for i := range d.Events {
		// Checked here: in a batch a bad event would fail every delivery.
		if err := checkEvent(&d.Events[i]); err != nil {
			return nil, fmt.Errorf("deliver: %w", err)
		}
	}
	if d.Idempotency == nil {
		r.events = d.Events // written in the batch's transaction, IDs and Seqs filled in
		if err := s.queueDeliver(ctx, r); err != nil {
			return nil, err
		}
		return out, nil
	}
	// With an idempotency record: one transaction of its own, since a
	// record that exists already (ErrExists) must fail this delivery
	// alone.
	err := s.write(ctx, func(tx pgx.Tx, t *touched) error {
		rows, err := tx.Query(ctx, sqlDeliver, r.args()...)
		if err != nil {
			return err
		}
		if err := r.readRows(rows); err != nil {
			return err
		}
		if r.err != nil {
			return r.err
		}
		for i, m := range out {
			t.add(accounts[i], m.MailboxID)
		}
		if err := s.addEvents(ctx, tx, d.Events, time.Now()); err != nil {
			return err
		}
		return insertIdempotency(ctx, tx, d.Idempotency)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// mailboxAccount returns the account of a mailbox, or ErrNotFound.
func mailboxAccount(ctx context.Context, tx pgx.Tx, mailboxID int64) (int64, error) {
	var accountID int64
	err := tx.QueryRow(ctx, `SELECT account_id FROM mailboxes WHERE id = $1`, mailboxID).Scan(&accountID)
	return accountID, notFound(err, fmt.Sprintf("mailbox %d", mailboxID))
}

// Append implements store.Mail.
func (s *Store) Append(ctx context.Context, mailboxID int64, opts store.AppendOptions, body []byte) (store.Message, error) {
	fl, err := flagset.Parse(opts.Flags)
	if err != nil {
		return store.Message{}, fmt.Errorf("append: %w", err)
	}
	date := internalDate(opts.InternalDate)
	body = nonNil(body)
	structure := message.Structure(body)
	size := int64(len(body))
	var m store.Message
	err = s.write(ctx, func(tx pgx.Tx, t *touched) error {
		acct, err := mailboxAccount(ctx, tx, mailboxID)
		if err != nil {
			return err
		}
		if err := checkQuota(ctx, tx, map[int64]int64{acct: size}); err != nil {
			return fmt.Errorf("append: %w", err)
		}
		msgs := []newMessage{{mailbox: mailboxID, flags: fl, size: size, date: date.UnixMicro()}}
		if err := allocate(ctx, tx, msgs); err != nil {
			return err
		}
		if msgs[0].blob, err = insertBlob(ctx, tx, 1, body, structure); err != nil {
			return err
		}
		ids, err := insertMessages(ctx, tx, msgs)
		if err != nil {
			return err
		}
		m = store.Message{ID: ids[0], MailboxID: mailboxID, UID: msgs[0].uid, ModSeq: msgs[0].modseq, Flags: fl.List(),
			InternalDate: fromMicro(date.UnixMicro()), Size: size}
		t.add(acct, mailboxID)
		return nil
	})
	if err != nil {
		return store.Message{}, err
	}
	return m, nil
}
