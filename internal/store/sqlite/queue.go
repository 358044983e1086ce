package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/names"
)

// The outbound queue (store.Queue): one row per message with its body,
// its recipients and their states in queue_recipients. A claimed message
// has a nonzero lease token and its next_attempt is the lease's end, so
// one index (held, next_attempt) finds due messages and expired leases.

// Enqueue implements store.Queue.
func (s *Store) Enqueue(ctx context.Context, m store.QueuedMessage) (int64, error) {
	m, evs, err := names.Enqueue(m)
	if err != nil {
		return 0, err
	}
	queued, next := m.Queued, m.NextAttempt
	var eventData []byte
	if len(m.EventData) > 0 {
		eventData = m.EventData
	}
	body := nonNil(m.Body)
	var id int64
	err = s.write(ctx, func(w *wtx) error {
		var err error
		id, err = w.insert(`INSERT INTO queue (account_id, mail_from, utf8, require_tls, size, queued, next_attempt, body,
				tracking_id, domain, event_data, submitter)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			m.AccountID, m.From, m.UTF8, m.RequireTLS, len(body), queued.UnixMicro(), next.UnixMicro(), body,
			m.TrackingID, m.Domain, eventData, m.Submitter)
		if isUniqueViolation(err) {
			return fmt.Errorf("enqueue: tracking id %q: %w", m.TrackingID, store.ErrExists)
		}
		if err != nil {
			return err
		}
		for i, r := range m.Recipients {
			if _, err := w.exec(`INSERT INTO queue_recipients (queue_id, position, address) VALUES (?, ?, ?)`, id, i, r); err != nil {
				return err
			}
		}
		if err := w.addEvents(evs, queued); err != nil {
			return err
		}
		return insertIdempotency(w, m.Idempotency)
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

// queuedColumns are what scanQueued reads, for a queue row q.
const queuedColumns = `q.id, q.account_id, q.mail_from, q.utf8, q.require_tls, q.size, q.queued, q.next_attempt, q.attempts,
	q.held, q.lease, q.lease_holder, q.last_error, q.warned, q.tracking_id, q.domain, q.event_data, q.submitter,
	(SELECT json_group_array(json_array(address, state, reply)) FROM
		(SELECT address, state, reply FROM queue_recipients r WHERE r.queue_id = q.id ORDER BY position))`

func scanQueued(r rowScanner) (store.QueuedMessage, error) {
	var m store.QueuedMessage
	var queued, next int64
	var status jsonStatus
	err := r.Scan(&m.ID, &m.AccountID, &m.From, &m.UTF8, &m.RequireTLS, &m.Size, &queued, &next, &m.Attempts,
		&m.Held, &m.Lease, &m.LeaseHolder, &m.LastError, &m.Warned, &m.TrackingID, &m.Domain, &m.EventData, &m.Submitter, &status)
	m.Queued, m.NextAttempt, m.Status = fromMicro(queued), fromMicro(next), status
	for _, st := range m.Status {
		if st.State == store.RecipientPending {
			m.Recipients = append(m.Recipients, st.Address)
		}
	}
	return m, err
}

// QueuedMessages implements store.Queue.
func (s *Store) QueuedMessages(ctx context.Context, limit int) ([]store.QueuedMessage, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := s.query(ctx, `SELECT `+queuedColumns+` FROM queue q ORDER BY q.id LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r *sql.Rows) (store.QueuedMessage, error) { return scanQueued(r) })
}

// QueuedMessage implements store.Queue.
func (s *Store) QueuedMessage(ctx context.Context, id int64) (store.QueuedMessage, error) {
	m, err := scanQueued(s.queryRow(ctx, `SELECT `+queuedColumns+` FROM queue q WHERE q.id = ?`, id))
	if err != nil {
		return store.QueuedMessage{}, notFound(err, fmt.Sprintf("queued message %d", id))
	}
	return m, nil
}

// QueuedBody implements store.Queue.
func (s *Store) QueuedBody(ctx context.Context, id int64) ([]byte, error) {
	var body []byte
	if err := s.queryRow(ctx, `SELECT body FROM queue WHERE id = ?`, id).Scan(&body); err != nil {
		return nil, notFound(err, fmt.Sprintf("queued message %d", id))
	}
	return nonNil(body), nil
}

// ClaimQueued implements store.Queue.
func (s *Store) ClaimQueued(ctx context.Context, now time.Time, lease time.Duration, limit int, holder string) ([]store.QueuedMessage, error) {
	if limit <= 0 || lease <= 0 {
		return nil, fmt.Errorf("claim: limit and lease must be positive: %w", store.ErrInvalid)
	}
	until := now.Add(lease).UnixMicro()
	var claimed []store.QueuedMessage
	err := s.write(ctx, func(w *wtx) error {
		claimed = claimed[:0]
		ids, err := w.lease("queue", `SELECT id FROM queue WHERE held = 0 AND next_attempt <= ? ORDER BY next_attempt LIMIT ?`,
			until, now.UnixMicro(), limit)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := w.exec(`UPDATE queue SET lease_holder = ? WHERE id = ?`, holder, id); err != nil {
				return err
			}
			m, err := scanQueued(w.queryRow(`SELECT `+queuedColumns+` FROM queue q WHERE q.id = ?`, id))
			if err != nil {
				return err
			}
			claimed = append(claimed, m)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return claimed, nil
}

// FinishAttempt implements store.Queue.
func (s *Store) FinishAttempt(ctx context.Context, a store.Attempt) error {
	return s.write(ctx, func(w *wtx) error {
		var lease int64
		var t store.Tracked
		err := w.queryRow(`SELECT lease, tracking_id, domain, event_data, submitter FROM queue WHERE id = ?`, a.ID).
			Scan(&lease, &t.TrackingID, &t.Domain, &t.Data, &t.Submitter)
		if err == sql.ErrNoRows || err == nil && (lease != a.Lease || lease == 0) {
			return fmt.Errorf("queued message %d: %w", a.ID, store.ErrLeaseLost)
		}
		if err != nil {
			return err
		}
		if t.TrackingID != "" {
			pending, err := w.pendingRecipients(a.ID)
			if err != nil {
				return err
			}
			evs := store.AttemptEvents(t, pending, a)
			if err := w.addEvents(evs, time.Now()); err != nil {
				return err
			}
			if err := w.suppressHardBounces(evs); err != nil {
				return err
			}
		}
		for _, r := range a.Results {
			if _, err := w.exec(`UPDATE queue_recipients SET state = ?, reply = ? WHERE queue_id = ? AND address = ? AND state = 0`,
				int(r.State), r.Reply, a.ID, r.Address); err != nil {
				return err
			}
		}
		var pending int
		if err := w.queryRow(`SELECT count(*) FROM queue_recipients WHERE queue_id = ? AND state = 0`, a.ID).Scan(&pending); err != nil {
			return err
		}
		if pending == 0 {
			_, err := w.exec(`DELETE FROM queue WHERE id = ?`, a.ID)
			return err
		}
		_, err = w.exec(`UPDATE queue SET attempts = attempts + 1, next_attempt = ?, lease = 0, lease_holder = '', last_error = ?,
			warned = (warned OR ?) WHERE id = ?`, a.NextAttempt.UnixMicro(), a.LastError, a.Warned, a.ID)
		return err
	})
}

// NextQueuedAttempt implements store.Queue.
func (s *Store) NextQueuedAttempt(ctx context.Context) (time.Time, error) {
	var next sql.NullInt64
	if err := s.queryRow(ctx, `SELECT min(next_attempt) FROM queue WHERE held = 0`).Scan(&next); err != nil {
		return time.Time{}, err
	}
	if !next.Valid {
		return time.Time{}, nil
	}
	return fromMicro(next.Int64), nil
}

// QueueCounts implements store.Queue. The queue_due index (held,
// next_attempt) covers the query: no row, let alone a body, is read.
func (s *Store) QueueCounts(ctx context.Context, now time.Time) (store.QueueCounts, error) {
	var n store.QueueCounts
	err := s.queryRow(ctx, `SELECT
		count(*) FILTER (WHERE held = 0 AND next_attempt <= ?1),
		count(*) FILTER (WHERE held = 0 AND next_attempt > ?1),
		count(*) FILTER (WHERE held != 0)
		FROM queue INDEXED BY queue_due`, now.UnixMicro()).Scan(&n.Queued, &n.Deferred, &n.Held)
	return n, err
}

// dueNow is the next_attempt of a message made due at once, leaving a
// live lease (a claim in flight) alone.
const dueNow = `CASE WHEN lease != 0 AND next_attempt > ?1 THEN next_attempt ELSE ?1 END`

// HoldQueued implements store.Queue.
func (s *Store) HoldQueued(ctx context.Context, id int64, hold bool) error {
	if hold {
		return s.updateQueued(ctx, id, `UPDATE queue SET held = 1 WHERE id = ?2`)
	}
	return s.updateQueued(ctx, id, `UPDATE queue SET held = 0, next_attempt = `+dueNow+` WHERE id = ?2`)
}

// RetryQueued implements store.Queue.
func (s *Store) RetryQueued(ctx context.Context, id int64) error {
	return s.updateQueued(ctx, id, `UPDATE queue SET next_attempt = `+dueNow+` WHERE id = ?2 AND held = 0`)
}

// RemoveQueued implements store.Queue.
func (s *Store) RemoveQueued(ctx context.Context, id int64) error {
	return s.write(ctx, func(w *wtx) error {
		var t store.Tracked
		err := w.queryRow(`SELECT tracking_id, domain, event_data, submitter FROM queue WHERE id = ?`, id).
			Scan(&t.TrackingID, &t.Domain, &t.Data, &t.Submitter)
		if err != nil {
			return notFound(err, fmt.Sprintf("queued message %d", id))
		}
		if t.TrackingID != "" {
			pending, err := w.pendingRecipients(id)
			if err != nil {
				return err
			}
			evs := store.RemovedEvents(t, pending)
			if err := w.addEvents(evs, time.Now()); err != nil {
				return err
			}
		}
		_, err = w.exec(`DELETE FROM queue WHERE id = ?`, id)
		return err
	})
}

// pendingRecipients lists the addresses of a queued message still to
// deliver, in order.
func (w *wtx) pendingRecipients(id int64) ([]string, error) {
	rows, err := w.query(`SELECT address FROM queue_recipients WHERE queue_id = ? AND state = 0 ORDER BY position`, id)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r *sql.Rows) (string, error) {
		var addr string
		return addr, r.Scan(&addr)
	})
}

// updateQueued runs query with ?1 = now and ?2 = id, after checking that
// the message is queued.
func (s *Store) updateQueued(ctx context.Context, id int64, query string) error {
	now := time.Now().UnixMicro()
	return s.write(ctx, func(w *wtx) error {
		var one int
		if err := w.queryRow(`SELECT 1 FROM queue WHERE id = ?`, id).Scan(&one); err != nil {
			return notFound(err, fmt.Sprintf("queued message %d", id))
		}
		_, err := w.exec(query, now, id)
		return err
	})
}

// jsonStatus scans recipients as a JSON array of [address, state, reply].
type jsonStatus []store.RecipientStatus

func (j *jsonStatus) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("jsonStatus: cannot scan %T", src)
	}
	var rows [][3]any
	if err := json.Unmarshal(b, &rows); err != nil {
		return err
	}
	*j = make(jsonStatus, 0, len(rows))
	for _, r := range rows {
		addr, _ := r[0].(string)
		state, _ := r[1].(float64)
		reply, _ := r[2].(string)
		*j = append(*j, store.RecipientStatus{Address: addr, State: store.RecipientState(state), Reply: reply})
	}
	return nil
}

// RenewLease implements store.Queue.
func (s *Store) RenewLease(ctx context.Context, id, lease int64, until time.Time) error {
	return s.write(ctx, func(w *wtx) error {
		res, err := w.exec(`UPDATE queue SET next_attempt = ? WHERE id = ? AND lease = ? AND lease != 0`, until.UnixMicro(), id, lease)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return cmp.Or(err, fmt.Errorf("queued message %d: %w", id, store.ErrLeaseLost))
		}
		return nil
	})
}
