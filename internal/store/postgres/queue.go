package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/names"
)

// The outbound queue (store.Queue): one row per message with its body,
// its recipients and their states in queue_recipients. A claimed message
// has a nonzero lease token and its next_attempt is the lease's end, so
// the queue_due index (held, next_attempt) finds due messages and expired
// leases alike.
//
// Several nodes claim from one table: ClaimQueued selects due rows with
// FOR UPDATE SKIP LOCKED, so concurrent claims pass over each other's
// rows instead of waiting or taking the same ones, and sets the lease in
// the same statement. Lease tokens come from the lease_tokens sequence,
// unique across nodes. FinishAttempt locks the row (FOR UPDATE) and
// checks the token, so an attempt whose lease was taken over, or whose
// message was held or removed meanwhile, changes nothing.

// Enqueue implements store.Queue.
func (s *Store) Enqueue(ctx context.Context, m store.QueuedMessage) (int64, error) {
	m, evs, err := names.Enqueue(m)
	if err != nil {
		return 0, err
	}
	queued, next := m.Queued, m.NextAttempt
	body := nonNil(m.Body)
	var id int64
	err = s.write(ctx, func(tx pgx.Tx, _ *touched) error {
		// ON CONFLICT DO NOTHING rather than a unique violation, which
		// would abort the transaction and lose its error's meaning.
		err := tx.QueryRow(ctx, `
			WITH q AS (
				INSERT INTO queue (account_id, mail_from, utf8, require_tls, size, queued, next_attempt, body, tracking_id, domain, event_data, submitter)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $13)
				ON CONFLICT (tracking_id) WHERE tracking_id <> '' DO NOTHING
				RETURNING id
			), r AS (
				INSERT INTO queue_recipients (queue_id, position, address)
				SELECT q.id, a.n - 1, a.address FROM q, unnest($12::text[]) WITH ORDINALITY a (address, n)
			)
			SELECT id FROM q`,
			m.AccountID, m.From, m.UTF8, m.RequireTLS, len(body), queued.UnixMicro(), next.UnixMicro(), body,
			m.TrackingID, m.Domain, nilIfEmpty(m.EventData), m.Recipients, m.Submitter).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("enqueue: tracking id %q: %w", m.TrackingID, store.ErrExists)
		}
		if err != nil {
			return err
		}
		if err := s.addEvents(ctx, tx, evs, queued); err != nil {
			return err
		}
		return insertIdempotency(ctx, tx, m.Idempotency)
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

// queuedColumns are what scanQueued reads, for a queue row q; the
// recipients come as three arrays in position order.
const queuedColumns = `q.id, q.account_id, q.mail_from, q.utf8, q.require_tls, q.size, q.queued, q.next_attempt, q.attempts,
	q.held, q.lease, q.lease_holder, q.last_error, q.warned, q.tracking_id, q.domain, q.event_data, q.submitter, r.addresses, r.states, r.replies`

// queueRowColumns are the queue row's columns that queuedColumns reads
// (not the body), for RETURNING.
const queueRowColumns = `queue.id, queue.account_id, queue.mail_from, queue.utf8, queue.require_tls, queue.size, queue.queued,
	queue.next_attempt, queue.attempts, queue.held, queue.lease, queue.lease_holder, queue.last_error, queue.warned, queue.tracking_id, queue.domain,
	queue.event_data, queue.submitter`

// queuedRecipients joins a queue row q with its recipients r.
const queuedRecipients = ` CROSS JOIN LATERAL (SELECT array_agg(address ORDER BY position) AS addresses,
	array_agg(state ORDER BY position) AS states, array_agg(reply ORDER BY position) AS replies
	FROM queue_recipients WHERE queue_id = q.id) r`

func scanQueued(row pgx.Rows) (store.QueuedMessage, error) {
	var m store.QueuedMessage
	var queued, next int64
	var addrs, replies []string
	var states []int16
	err := row.Scan(&m.ID, &m.AccountID, &m.From, &m.UTF8, &m.RequireTLS, &m.Size, &queued, &next, &m.Attempts,
		&m.Held, &m.Lease, &m.LeaseHolder, &m.LastError, &m.Warned, &m.TrackingID, &m.Domain, &m.EventData, &m.Submitter, &addrs, &states, &replies)
	if err != nil {
		return store.QueuedMessage{}, err
	}
	m.Queued, m.NextAttempt = fromMicro(queued), fromMicro(next)
	if len(states) != len(addrs) || len(replies) != len(addrs) {
		return store.QueuedMessage{}, fmt.Errorf("queued message %d: recipient arrays of unequal length", m.ID)
	}
	m.Status = make([]store.RecipientStatus, len(addrs))
	for i, a := range addrs {
		m.Status[i] = store.RecipientStatus{Address: a, State: store.RecipientState(states[i]), Reply: replies[i]}
		if m.Status[i].State == store.RecipientPending {
			m.Recipients = append(m.Recipients, a)
		}
	}
	return m, nil
}

// QueuedMessages implements store.Queue.
func (s *Store) QueuedMessages(ctx context.Context, limit int) ([]store.QueuedMessage, error) {
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	return queryAll(s, ctx, `SELECT `+queuedColumns+` FROM queue q`+queuedRecipients+` ORDER BY q.id LIMIT $1`, []any{lim}, scanQueued)
}

// QueuedMessage implements store.Queue.
func (s *Store) QueuedMessage(ctx context.Context, id int64) (store.QueuedMessage, error) {
	ms, err := queryAll(s, ctx, `SELECT `+queuedColumns+` FROM queue q`+queuedRecipients+` WHERE q.id = $1`, []any{id}, scanQueued)
	if err != nil {
		return store.QueuedMessage{}, err
	}
	if len(ms) == 0 {
		return store.QueuedMessage{}, fmt.Errorf("queued message %d: %w", id, store.ErrNotFound)
	}
	return ms[0], nil
}

// QueuedBody implements store.Queue.
func (s *Store) QueuedBody(ctx context.Context, id int64) ([]byte, error) {
	var body []byte
	if err := s.queryRow(ctx, `SELECT body FROM queue WHERE id = $1`, []any{id}, &body); err != nil {
		return nil, notFound(err, fmt.Sprintf("queued message %d", id))
	}
	return nonNil(body), nil
}

// ClaimQueued implements store.Queue: one statement selects the due rows
// FOR UPDATE SKIP LOCKED in next_attempt order and gives each a new token
// and the lease's end.
func (s *Store) ClaimQueued(ctx context.Context, now time.Time, lease time.Duration, limit int, holder string) ([]store.QueuedMessage, error) {
	if limit <= 0 || lease <= 0 {
		return nil, fmt.Errorf("claim: limit and lease must be positive: %w", store.ErrInvalid)
	}
	// One statement: atomic without a transaction block.
	return queryAll(s, ctx, `
		WITH due AS (
			SELECT id, next_attempt FROM queue WHERE NOT held AND next_attempt <= $1
			ORDER BY next_attempt LIMIT $2 FOR UPDATE SKIP LOCKED
		), leased AS (
			UPDATE queue SET lease = nextval('lease_tokens'), lease_holder = $4, next_attempt = $3 FROM due WHERE queue.id = due.id
			RETURNING `+queueRowColumns+`, due.next_attempt AS due_at
		)
		SELECT `+queuedColumns+` FROM leased q`+queuedRecipients+` ORDER BY q.due_at, q.id`, []any{now.UnixMicro(), limit, now.Add(lease).UnixMicro(), store.ValidText(holder)}, scanQueued)
}

// FinishAttempt implements store.Queue.
func (s *Store) FinishAttempt(ctx context.Context, a store.Attempt) error {
	return s.write(ctx, func(tx pgx.Tx, _ *touched) error {
		var lease int64
		var t store.Tracked
		err := tx.QueryRow(ctx, `SELECT lease, tracking_id, domain, event_data, submitter FROM queue WHERE id = $1 FOR UPDATE`, a.ID).
			Scan(&lease, &t.TrackingID, &t.Domain, &t.Data, &t.Submitter)
		if errors.Is(err, pgx.ErrNoRows) || err == nil && (lease != a.Lease || lease == 0) {
			return fmt.Errorf("queued message %d: %w", a.ID, store.ErrLeaseLost)
		}
		if err != nil {
			return err
		}
		if t.TrackingID != "" {
			pending, err := pendingRecipients(ctx, tx, a.ID)
			if err != nil {
				return err
			}
			evs := store.AttemptEvents(t, pending, a)
			if err := s.addEvents(ctx, tx, evs, time.Now()); err != nil {
				return err
			}
			if err := suppressHardBounces(ctx, tx, evs); err != nil {
				return err
			}
		}
		addrs := make([]string, len(a.Results))
		states := make([]int16, len(a.Results))
		replies := make([]string, len(a.Results))
		for i, r := range a.Results {
			addrs[i], states[i], replies[i] = r.Address, int16(r.State), store.ValidText(r.Reply)
		}
		// The count cannot see the CTE's update (one snapshot): it adds
		// the recipients the update left pending to those it did not touch.
		var left int
		err = tx.QueryRow(ctx, `
			WITH upd AS (
				UPDATE queue_recipients r SET state = u.state, reply = u.reply
				FROM unnest($2::text[], $3::smallint[], $4::text[]) u (address, state, reply)
				WHERE r.queue_id = $1 AND r.address = u.address AND r.state = 0
				RETURNING r.position, r.state
			)
			SELECT (SELECT count(*) FROM upd WHERE state = 0) + (SELECT count(*) FROM queue_recipients
				WHERE queue_id = $1 AND state = 0 AND position NOT IN (SELECT position FROM upd))`,
			a.ID, addrs, states, replies).Scan(&left)
		if err != nil {
			return err
		}
		if left == 0 {
			_, err := tx.Exec(ctx, `DELETE FROM queue WHERE id = $1`, a.ID)
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE queue SET attempts = attempts + 1, next_attempt = $2, lease = 0, lease_holder = '', last_error = $3,
			warned = (warned OR $4) WHERE id = $1`, a.ID, a.NextAttempt.UnixMicro(), store.ValidText(a.LastError), a.Warned)
		return err
	})
}

// RenewLease implements store.Queue: one conditional UPDATE.
func (s *Store) RenewLease(ctx context.Context, id, lease int64, until time.Time) error {
	pool, err := s.db()
	if err != nil {
		return err
	}
	tag, err := pool.Exec(ctx, `UPDATE queue SET next_attempt = $3 WHERE id = $1 AND lease = $2 AND lease <> 0`, id, lease, until.UnixMicro())
	if err != nil {
		return s.mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("queued message %d: %w", id, store.ErrLeaseLost)
	}
	return nil
}

// NextQueuedAttempt implements store.Queue.
func (s *Store) NextQueuedAttempt(ctx context.Context) (time.Time, error) {
	var next *int64
	if err := s.queryRow(ctx, `SELECT min(next_attempt) FROM queue WHERE NOT held`, nil, &next); err != nil {
		return time.Time{}, err
	}
	if next == nil {
		return time.Time{}, nil
	}
	return fromMicro(*next), nil
}

// QueueCounts implements store.Queue: one pass over the queue_due index.
func (s *Store) QueueCounts(ctx context.Context, now time.Time) (store.QueueCounts, error) {
	var n store.QueueCounts
	err := s.queryRow(ctx, `SELECT
		count(*) FILTER (WHERE NOT held AND next_attempt <= $1),
		count(*) FILTER (WHERE NOT held AND next_attempt > $1),
		count(*) FILTER (WHERE held)
		FROM queue`, []any{now.UnixMicro()}, &n.Queued, &n.Deferred, &n.Held)
	return n, err
}

// dueNow is the next_attempt of a message made due at once ($2 = now),
// leaving a live lease (a claim in flight) alone.
const dueNow = `CASE WHEN lease <> 0 AND next_attempt > $2 THEN next_attempt ELSE $2 END`

// HoldQueued implements store.Queue.
func (s *Store) HoldQueued(ctx context.Context, id int64, hold bool) error {
	if hold {
		return s.updateQueued(ctx, id, `UPDATE queue SET held = true WHERE id = $1`)
	}
	return s.updateQueued(ctx, id, `UPDATE queue SET held = false, next_attempt = `+dueNow+` WHERE id = $1`, time.Now().UnixMicro())
}

// RetryQueued implements store.Queue.
func (s *Store) RetryQueued(ctx context.Context, id int64) error {
	return s.updateQueued(ctx, id, `UPDATE queue SET next_attempt = `+dueNow+` WHERE id = $1 AND NOT held`, time.Now().UnixMicro())
}

// updateQueued runs query with $1 = id and then args, after locking the
// message's row (ErrNotFound when it is not queued).
func (s *Store) updateQueued(ctx context.Context, id int64, query string, args ...any) error {
	return s.write(ctx, func(tx pgx.Tx, _ *touched) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM queue WHERE id = $1 FOR UPDATE`, id).Scan(&one); err != nil {
			return notFound(err, fmt.Sprintf("queued message %d", id))
		}
		_, err := tx.Exec(ctx, query, append([]any{id}, args...)...)
		return err
	})
}

// RemoveQueued implements store.Queue.
func (s *Store) RemoveQueued(ctx context.Context, id int64) error {
	return s.write(ctx, func(tx pgx.Tx, _ *touched) error {
		var t store.Tracked
		err := tx.QueryRow(ctx, `SELECT tracking_id, domain, event_data, submitter FROM queue WHERE id = $1 FOR UPDATE`, id).
			Scan(&t.TrackingID, &t.Domain, &t.Data, &t.Submitter)
		if err != nil {
			return notFound(err, fmt.Sprintf("queued message %d", id))
		}
		if t.TrackingID != "" {
			pending, err := pendingRecipients(ctx, tx, id)
			if err != nil {
				return err
			}
			if err := s.addEvents(ctx, tx, store.RemovedEvents(t, pending), time.Now()); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `DELETE FROM queue WHERE id = $1`, id)
		return err
	})
}

// pendingRecipients lists the addresses of a queued message still to
// deliver, in order.
func pendingRecipients(ctx context.Context, tx pgx.Tx, id int64) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT address FROM queue_recipients WHERE queue_id = $1 AND state = 0 ORDER BY position`, id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
