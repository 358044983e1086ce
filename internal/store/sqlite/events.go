package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// The event log (store.Events): events are rows of one append-only table;
// w.addEvents writes them, and their webhook outbox rows, inside whatever
// write caused them (Enqueue, FinishAttempt, Deliver), so they commit or
// roll back with it. A message's status is folded from its events on
// read: no second table to keep in step, and the (domain, message) index
// makes it one short range scan.

// addEvents inserts evs (setting ID, Seq and a zero Time) and one webhook
// delivery per matching enabled endpoint.
func (w *wtx) addEvents(evs []store.Event, now time.Time) error {
	for i := range evs {
		e := &evs[i]
		if e.Domain == "" || !e.Type.Valid() {
			return fmt.Errorf("event %q for domain %q: %w", e.Type, e.Domain, store.ErrInvalid)
		}
		e.ID = store.NewEventID()
		if e.Time.IsZero() {
			e.Time = now
		}
		e.Time = e.Time.UTC().Truncate(time.Microsecond)
		var next int64
		if !e.NextAttempt.IsZero() {
			next = e.NextAttempt.UnixMicro()
		}
		var data []byte
		if len(e.Data) > 0 {
			data = e.Data
		}
		seq, err := w.insert(`INSERT INTO events (id, time, type, domain, message, recipient, reply, next_attempt, data, submitter)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.ID, e.Time.UnixMicro(), string(e.Type), e.Domain, e.Message, e.Recipient, e.Reply, next, data, e.Submitter)
		if err != nil {
			return err
		}
		e.Seq = seq
		var res sql.Result
		if e.Endpoint != 0 {
			res, err = w.exec(`INSERT INTO webhook_deliveries (endpoint_id, event_seq, created, next_attempt)
				SELECT id, ?, ?, ? FROM webhook_endpoints WHERE id = ? AND enabled = 1`,
				seq, now.UnixMicro(), now.UnixMicro(), e.Endpoint)
		} else {
			res, err = w.exec(`INSERT INTO webhook_deliveries (endpoint_id, event_seq, created, next_attempt)
				SELECT id, ?1, ?2, ?2 FROM webhook_endpoints
				WHERE domain = ?3 AND enabled = 1 AND pattern = '' AND (types = '' OR instr(',' || types || ',', ',' || ?4 || ',') > 0)`,
				seq, now.UnixMicro(), e.Domain, string(e.Type))
		}
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 && w.cur != nil {
			w.cur.outbox = true
		}
	}
	return nil
}

// OnWebhookDeliveries sets fn (nil: none) to be called after every commit
// that wrote webhook deliveries, once the rows are visible: the daemon
// wakes its webhook worker with it instead of waiting for the next poll.
// Writes by other processes (the CLI) call nothing. fn must not block.
func (s *Store) OnWebhookDeliveries(fn func()) {
	if fn == nil {
		s.onOutbox.Store(nil)
		return
	}
	s.onOutbox.Store(&fn)
}

// RecordEvents implements store.Events.
func (s *Store) RecordEvents(ctx context.Context, evs []store.Event) ([]store.Event, error) {
	out := append([]store.Event(nil), evs...)
	err := s.write(ctx, func(w *wtx) error { return w.addEvents(out, time.Now()) })
	if err != nil {
		return nil, err
	}
	return out, nil
}

const eventColumns = `seq, id, time, type, domain, message, recipient, reply, next_attempt, data, submitter`

func scanEvent(r rowScanner) (store.Event, error) {
	var e store.Event
	var t, next int64
	var typ string
	var data []byte
	err := r.Scan(&e.Seq, &e.ID, &t, &typ, &e.Domain, &e.Message, &e.Recipient, &e.Reply, &next, &data, &e.Submitter)
	e.Time, e.Type = fromMicro(t), store.EventType(typ)
	if next != 0 {
		e.NextAttempt = fromMicro(next)
	}
	if len(data) > 0 {
		e.Data = data
	}
	return e, err
}

// QueryEvents implements store.Events.
func (s *Store) QueryEvents(ctx context.Context, f store.EventFilter) ([]store.Event, error) {
	if f.Domain == "" {
		return nil, fmt.Errorf("events: no domain: %w", store.ErrInvalid)
	}
	where := []string{"domain = ?"}
	args := []any{f.Domain}
	if len(f.Types) > 0 {
		ph := make([]string, len(f.Types))
		for i, t := range f.Types {
			ph[i] = "?"
			args = append(args, string(t))
		}
		where = append(where, "type IN ("+strings.Join(ph, ",")+")")
	}
	if f.Message != "" {
		where, args = append(where, "message = ?"), append(args, f.Message)
	}
	if f.Recipient != "" {
		where, args = append(where, "lower(recipient) = lower(?)"), append(args, f.Recipient)
	}
	if f.Address != "" {
		where, args = append(where, "(submitter = ? OR type = 'inbound' AND lower(recipient) = lower(?))"), append(args, f.Address, f.Address)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "time >= ?"), append(args, f.Since.UnixMicro())
	}
	if !f.Until.IsZero() {
		where, args = append(where, "time < ?"), append(args, f.Until.UnixMicro())
	}
	order := "seq"
	if f.Newest {
		order = "seq DESC"
		if f.After > 0 {
			where, args = append(where, "seq < ?"), append(args, f.After)
		}
	} else if f.After > 0 {
		where, args = append(where, "seq > ?"), append(args, f.After)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	args = append(args, limit)
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+eventColumns+` FROM events WHERE `+strings.Join(where, " AND ")+
		` ORDER BY `+order+` LIMIT ?`, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r *sql.Rows) (store.Event, error) { return scanEvent(r) })
}

// MessageStatus implements store.Events.
func (s *Store) MessageStatus(ctx context.Context, domain, trackingID, submitter string) (store.MessageStatus, error) {
	rows, err := s.query(ctx, `SELECT `+eventColumns+` FROM events WHERE domain = ? AND message = ? AND (? = '' OR submitter = ?) ORDER BY seq`,
		domain, trackingID, submitter, submitter)
	if err != nil {
		return store.MessageStatus{}, err
	}
	evs, err := collect(rows, func(r *sql.Rows) (store.Event, error) { return scanEvent(r) })
	if err != nil {
		return store.MessageStatus{}, err
	}
	return store.StatusOf(domain, trackingID, evs)
}

// pruneBatch is how many rows one pruning transaction deletes at most, so
// that a large backlog does not hold the writer (and every delivery
// waiting for it) for long.
const pruneBatch = 2000

// PruneEvents implements store.Events.
func (s *Store) PruneEvents(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		var deliveries, events int64
		err := s.write(ctx, func(w *wtx) error {
			res, err := w.exec(`DELETE FROM webhook_deliveries WHERE id IN
				(SELECT id FROM webhook_deliveries WHERE state != 0 AND finished < ? LIMIT ?)`, before.UnixMicro(), pruneBatch)
			if err != nil {
				return err
			}
			if deliveries, err = res.RowsAffected(); err != nil {
				return err
			}
			res, err = w.exec(`DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE time < ?
				AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_seq = events.seq) LIMIT ?)`, before.UnixMicro(), pruneBatch)
			if err != nil {
				return err
			}
			events, err = res.RowsAffected()
			return err
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
