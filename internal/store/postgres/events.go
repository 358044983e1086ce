package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/posthorn/posthorn/internal/store"
)

// The event log (store.Events): one append-only table written by
// addEvents inside the transaction of the change the events report
// (Enqueue, FinishAttempt, RemoveQueued, Deliver), together with their
// webhook outbox rows, so both commit or roll back with it.
//
// # The seq cursor with several writers
//
// Event.Seq is the paging cursor of GET /api/v1/events: a client reads
// the events after the last seq it saw. A plain sequence default would
// break that with concurrent writers: transaction A takes seq 10,
// transaction B takes seq 11 and commits first, a reader pages past 11,
// then A commits 10 behind the reader's cursor, and the reader never sees
// it. Events are written by every node, so this is not rare.
//
// The fix is a barrier between the allocation of seqs and readers. The
// trigger events_take_seq (schema_queue.go) takes the seq under a
// shared advisory lock (eventsLock) that the writing transaction holds
// until it commits or rolls back; writers never wait for each other. A
// reader first takes the same lock exclusively, for one statement
// (eventHorizon): that waits until every transaction that took a seq has
// ended, and reads the sequence's last value H meanwhile; then it reads
// with seq <= H. Every seq up to H is then final (committed and visible,
// or never to appear), so no later commit can land behind a cursor. The
// price: a reader waits for the event-writing transactions in flight
// (milliseconds), and writers arriving during that wait queue behind it.
//
// Rejected: a lock held exclusively from the seq's allocation to commit
// (serialises every event-writing commit of every node, a round trip and
// an fsync each); filtering readers by pg_snapshot_xmin over a stored
// transaction id (xmin is held back by any transaction of the whole
// cluster, so a reader would not even see its own just-committed events
// while an unrelated transaction runs).

// eventsLock is the advisory lock key of the event order ("evnts" in
// ASCII); the trigger in schema_queue.go uses the same value.
const eventsLock = 0x65766e7473

// outboxChannel is the NOTIFY channel that says webhook deliveries were
// written; every node's listener wakes its webhook worker (see
// OnWebhookDeliveries).
const outboxChannel = "posthorn_outbox"

// addEvents writes events (store.Delivery.Events, Enqueue's events) and
// their webhook deliveries inside tx, the transaction of the change they
// report, in one statement. Zero Time is now; it fills in ID and Seq.
// Called by Deliver with d.Events. An event without a Domain or with an
// unknown Type is ErrInvalid (the caller's transaction must then roll
// back).
func (s *Store) addEvents(ctx context.Context, tx pgx.Tx, evs []store.Event, now time.Time) error {
	if len(evs) == 0 {
		return nil
	}
	n := len(evs)
	ids, types, domains, messages, rcpts, replies, submitters := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	times, nexts, endpoints := make([]int64, n), make([]int64, n), make([]int64, n)
	data := make([][]byte, n)
	index := make(map[string]int, n)
	for i := range evs {
		e := &evs[i]
		if err := checkEvent(e); err != nil {
			return err
		}
		e.ID = store.NewEventID()
		if e.Time.IsZero() {
			e.Time = now
		}
		e.Time = e.Time.UTC().Truncate(time.Microsecond)
		e.Reply = store.ValidText(e.Reply)
		ids[i], types[i], domains[i], messages[i], rcpts[i], replies[i] = e.ID, string(e.Type), e.Domain, e.Message, e.Recipient, e.Reply
		times[i], nexts[i], endpoints[i], data[i] = e.Time.UnixMicro(), microOrZero(e.NextAttempt), e.Endpoint, nilIfEmpty(e.Data)
		submitters[i] = e.Submitter
		index[e.ID] = i
	}
	rows, err := tx.Query(ctx, `
		WITH input AS (
			SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
				$8::bigint[], $9::bytea[], $10::bigint[], $12::text[]) WITH ORDINALITY
				AS i (id, time, type, domain, message, recipient, reply, next_attempt, data, endpoint, submitter, n)
		), ev AS (
			INSERT INTO events (id, time, type, domain, message, recipient, reply, next_attempt, data, submitter)
			SELECT id, time, type, domain, message, recipient, reply, next_attempt, data, submitter FROM input ORDER BY n
			RETURNING seq, id
		), d AS (
			INSERT INTO webhook_deliveries (endpoint_id, event_seq, created, next_attempt)
			SELECT p.id, ev.seq, $11, $11 FROM ev JOIN input i ON i.id = ev.id JOIN webhook_endpoints p ON p.enabled AND
				CASE WHEN i.endpoint <> 0 THEN p.id = i.endpoint
				ELSE p.domain = i.domain AND p.pattern = '' AND (p.types = '' OR position(',' || i.type || ',' IN ',' || p.types || ',') > 0) END
			RETURNING 1
		)
		SELECT ev.id, ev.seq, (SELECT count(*) FROM d) FROM ev`,
		ids, times, types, domains, messages, rcpts, replies, nexts, data, endpoints, now.UnixMicro(), submitters)
	if err != nil {
		return err
	}
	var id string
	var seq, deliveries int64
	_, err = pgx.ForEachRow(rows, []any{&id, &seq, &deliveries}, func() error {
		evs[index[id]].Seq = seq
		return nil
	})
	if err != nil {
		return err
	}
	if deliveries > 0 {
		_, err = tx.Exec(ctx, `SELECT pg_notify('`+outboxChannel+`', '')`)
	}
	return err
}

// checkEvent refuses an event without a Domain or of an unknown Type.
func checkEvent(e *store.Event) error {
	if e.Domain == "" || !e.Type.Valid() {
		return fmt.Errorf("event %q for domain %q: %w", e.Type, e.Domain, store.ErrInvalid)
	}
	return nil
}

// RecordEvents implements store.Events.
func (s *Store) RecordEvents(ctx context.Context, evs []store.Event) ([]store.Event, error) {
	out := append([]store.Event(nil), evs...)
	err := s.write(ctx, func(tx pgx.Tx, _ *touched) error { return s.addEvents(ctx, tx, out, time.Now()) })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// eventHorizon waits until no transaction that took an event seq is in
// flight and returns the highest seq taken (0 when none yet): every
// event up to it is final. See the comment at the top of this file.
func (s *Store) eventHorizon(ctx context.Context) (int64, error) {
	// One statement, so the exclusive lock is released as it ends; the
	// subquery takes it before the sequence is read. A writer that
	// holds a row lock another writer waits for, and only then asks for
	// the shared lock, queues behind this waiting reader: PostgreSQL's
	// deadlock detector reorders such a queue (a "soft" deadlock) or
	// aborts one party; an aborted reader tries again.
	var h int64
	var err error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		err = s.queryRow(ctx, `SELECT coalesce(pg_sequence_last_value('events_seq'), 0)
			FROM (SELECT pg_advisory_xact_lock($1)) l`, []any{int64(eventsLock)}, &h)
		if !isRetryable(err) || ctx.Err() != nil {
			break
		}
	}
	return h, err
}

const eventColumns = `seq, id, time, type, domain, message, recipient, reply, next_attempt, data, submitter`

func scanEvent(row pgx.Rows) (store.Event, error) {
	var e store.Event
	var t, next int64
	var typ string
	var data []byte
	if err := row.Scan(&e.Seq, &e.ID, &t, &typ, &e.Domain, &e.Message, &e.Recipient, &e.Reply, &next, &data, &e.Submitter); err != nil {
		return store.Event{}, err
	}
	e.Time, e.Type, e.NextAttempt = fromMicro(t), store.EventType(typ), fromMicroOrZero(next)
	if len(data) > 0 {
		e.Data = data
	}
	return e, nil
}

// QueryEvents implements store.Events. It reads no event past the
// horizon (eventHorizon), so paging by seq never skips one.
func (s *Store) QueryEvents(ctx context.Context, f store.EventFilter) ([]store.Event, error) {
	if f.Domain == "" {
		return nil, fmt.Errorf("events: no domain: %w", store.ErrInvalid)
	}
	horizon, err := s.eventHorizon(ctx)
	if err != nil {
		return nil, err
	}
	args := []any{f.Domain, horizon}
	where := []string{"domain = $1", "seq <= $2"}
	arg := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if len(f.Types) > 0 {
		types := make([]string, len(f.Types))
		for i, t := range f.Types {
			types[i] = string(t)
		}
		arg("type = ANY(?)", types)
	}
	if f.Message != "" {
		arg("message = ?", f.Message)
	}
	if f.Recipient != "" {
		arg("lower(recipient) = lower(?)", f.Recipient)
	}
	if f.Address != "" {
		arg("(submitter = ? OR type = 'inbound' AND lower(recipient) = lower(?))", f.Address)
	}
	if !f.Since.IsZero() {
		arg("time >= ?", f.Since.UnixMicro())
	}
	if !f.Until.IsZero() {
		arg("time < ?", f.Until.UnixMicro())
	}
	order := "seq"
	if f.Newest {
		order = "seq DESC"
		if f.After > 0 {
			arg("seq < ?", f.After)
		}
	} else if f.After > 0 {
		arg("seq > ?", f.After)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	return queryAll(s, ctx, `SELECT `+eventColumns+` FROM events WHERE `+strings.Join(where, " AND ")+
		` ORDER BY `+order+` LIMIT `+strconv.Itoa(limit), args, scanEvent)
}

// MessageStatus implements store.Events.
func (s *Store) MessageStatus(ctx context.Context, domain, trackingID, submitter string) (store.MessageStatus, error) {
	evs, err := queryAll(s, ctx, `SELECT `+eventColumns+` FROM events WHERE domain = $1 AND message = $2
		AND ($3 = '' OR submitter = $3) ORDER BY seq`, []any{domain, trackingID, submitter}, scanEvent)
	if err != nil {
		return store.MessageStatus{}, err
	}
	return store.StatusOf(domain, trackingID, evs)
}

// pruneBatch is how many rows one pruning transaction deletes at most, so
// that a large backlog is not one long transaction.
const pruneBatch = 2000

// PruneEvents implements store.Events.
func (s *Store) PruneEvents(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		var deliveries, events int64
		err := s.write(ctx, func(tx pgx.Tx, _ *touched) error {
			tag, err := tx.Exec(ctx, `DELETE FROM webhook_deliveries WHERE id IN
				(SELECT id FROM webhook_deliveries WHERE state <> 0 AND finished < $1 LIMIT $2)`, before.UnixMicro(), pruneBatch)
			if err != nil {
				return err
			}
			deliveries = tag.RowsAffected()
			tag, err = tx.Exec(ctx, `DELETE FROM events WHERE seq IN (SELECT seq FROM events e WHERE time < $1
				AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_seq = e.seq) LIMIT $2)`, before.UnixMicro(), pruneBatch)
			if err != nil {
				return err
			}
			events = tag.RowsAffected()
			return nil
		})
		if err != nil {
			return total, err
		}
		total += events
		if deliveries < pruneBatch && events < pruneBatch {
			return total, nil
		}
	}
}
