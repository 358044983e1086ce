package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// Webhook endpoints and the delivery outbox (store.Events). Endpoint
// types are a comma-separated list ('' = all), matched in SQL by
// addEvents. A claimed delivery has a nonzero lease and its next_attempt
// is the lease's end, so the partial index webhook_due finds due
// deliveries and expired leases alike.

const endpointColumns = `id, domain, url, secret, types, enabled, pattern, keep, created`

func scanEndpoint(r rowScanner) (store.WebhookEndpoint, error) {
	var e store.WebhookEndpoint
	var types string
	var created int64
	err := r.Scan(&e.ID, &e.Domain, &e.URL, &e.Secret, &types, &e.Enabled, &e.Pattern, &e.Keep, &created)
	e.Created = fromMicro(created)
	if types != "" {
		for _, t := range strings.Split(types, ",") {
			e.Types = append(e.Types, store.EventType(t))
		}
	}
	return e, err
}

// AddWebhookEndpoint implements store.Events.
func (s *Store) AddWebhookEndpoint(ctx context.Context, e store.WebhookEndpoint) (store.WebhookEndpoint, error) {
	e, types, err := e.PrepareNew()
	if err != nil {
		return store.WebhookEndpoint{}, err
	}
	err = s.write(ctx, func(w *wtx) error {
		var one int
		if err := w.queryRow(`SELECT 1 FROM domains WHERE name = ?`, e.Domain).Scan(&one); err != nil {
			if err == sql.ErrNoRows {
				return fmt.Errorf("webhook: domain %q: %w", e.Domain, store.ErrUnknownDomain)
			}
			return err
		}
		var err error
		e.ID, err = w.insert(`INSERT INTO webhook_endpoints (domain, url, secret, types, enabled, pattern, keep, created)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, e.Domain, e.URL, e.Secret, types, e.Enabled, e.Pattern, e.Keep, e.Created.UnixMicro())
		return err
	})
	s.subs.invalidate()
	if err != nil {
		return store.WebhookEndpoint{}, err
	}
	return e, nil
}

// WebhookEndpoints implements store.Events.
func (s *Store) WebhookEndpoints(ctx context.Context, domain string) ([]store.WebhookEndpoint, error) {
	rows, err := s.query(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE ?1 = '' OR domain = ?1 ORDER BY id`, strings.ToLower(domain))
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r *sql.Rows) (store.WebhookEndpoint, error) { return scanEndpoint(r) })
}

// WebhookEndpoint implements store.Events.
func (s *Store) WebhookEndpoint(ctx context.Context, id int64) (store.WebhookEndpoint, error) {
	e, err := scanEndpoint(s.queryRow(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE id = ?`, id))
	if err != nil {
		return store.WebhookEndpoint{}, notFound(err, fmt.Sprintf("webhook endpoint %d", id))
	}
	return e, nil
}

// SetWebhookEnabled implements store.Events.
func (s *Store) SetWebhookEnabled(ctx context.Context, id int64, enabled bool) error {
	defer s.subs.invalidate()
	return s.write(ctx, func(w *wtx) error {
		res, err := w.exec(`UPDATE webhook_endpoints SET enabled = ? WHERE id = ?`, enabled, id)
		return mustAffect(res, err, fmt.Sprintf("webhook endpoint %d", id))
	})
}

// RemoveWebhookEndpoint implements store.Events.
func (s *Store) RemoveWebhookEndpoint(ctx context.Context, id int64) error {
	defer s.subs.invalidate()
	return s.write(ctx, func(w *wtx) error {
		res, err := w.exec(`DELETE FROM webhook_endpoints WHERE id = ?`, id)
		return mustAffect(res, err, fmt.Sprintf("webhook endpoint %d", id))
	})
}

// WebhookSubscribed implements store.Events.
func (s *Store) WebhookSubscribed(ctx context.Context, domain string, t store.EventType) (bool, error) {
	eps, err := s.subs.get(func() ([]store.WebhookEndpoint, error) { return s.WebhookEndpoints(ctx, "") })
	if err != nil {
		return false, err
	}
	domain = strings.ToLower(domain)
	for _, e := range eps {
		if e.Domain == domain && e.Takes(t) {
			return true, nil
		}
	}
	return false, nil
}

// subscriptions caches every endpoint for WebhookSubscribed: the table
// is small and the MX asks for every message.
type subscriptions struct {
	mu     sync.Mutex
	loaded time.Time
	eps    []store.WebhookEndpoint
}

const subscriptionsMaxAge = 2 * time.Second

func (c *subscriptions) get(load func() ([]store.WebhookEndpoint, error)) ([]store.WebhookEndpoint, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded.IsZero() && time.Since(c.loaded) < subscriptionsMaxAge {
		return c.eps, nil
	}
	eps, err := load()
	if err != nil {
		return nil, err
	}
	c.eps, c.loaded = eps, time.Now()
	return eps, nil
}

func (c *subscriptions) invalidate() {
	c.mu.Lock()
	c.loaded = time.Time{}
	c.mu.Unlock()
}

const deliveryColumns = `d.id, d.endpoint_id, p.url, p.secret, d.state, d.attempts, d.created, d.next_attempt, d.finished, d.last_error, d.lease,
	e.seq, e.id, e.time, e.type, e.domain, e.message, e.recipient, e.reply, e.next_attempt, e.data`

const deliveryFrom = ` FROM webhook_deliveries d JOIN webhook_endpoints p ON p.id = d.endpoint_id JOIN events e ON e.seq = d.event_seq`

func scanDelivery(r rowScanner) (store.WebhookDelivery, error) {
	var d store.WebhookDelivery
	var created, next, finished, evTime, evNext int64
	var typ string
	var data []byte
	err := r.Scan(&d.ID, &d.EndpointID, &d.URL, &d.Secret, &d.State, &d.Attempts, &created, &next, &finished, &d.LastError, &d.Lease,
		&d.Event.Seq, &d.Event.ID, &evTime, &typ, &d.Event.Domain, &d.Event.Message, &d.Event.Recipient, &d.Event.Reply, &evNext, &data)
	d.Created, d.NextAttempt = fromMicro(created), fromMicro(next)
	if finished != 0 {
		d.Finished = fromMicro(finished)
	}
	d.Event.Time, d.Event.Type = fromMicro(evTime), store.EventType(typ)
	if evNext != 0 {
		d.Event.NextAttempt = fromMicro(evNext)
	}
	if len(data) > 0 {
		d.Event.Data = data
	}
	d.Event.Endpoint = d.EndpointID
	return d, err
}

// ClaimWebhookDeliveries implements store.Events.
func (s *Store) ClaimWebhookDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.WebhookDelivery, error) {
	if limit <= 0 || lease <= 0 {
		return nil, fmt.Errorf("claim webhook deliveries: limit and lease must be positive: %w", store.ErrInvalid)
	}
	until := now.Add(lease).UnixMicro()
	var claimed []store.WebhookDelivery
	err := s.write(ctx, func(w *wtx) error {
		claimed = claimed[:0]
		ids, err := w.lease("webhook_deliveries", `SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints p ON p.id = d.endpoint_id
			WHERE d.state = 0 AND d.next_attempt <= ? AND p.enabled = 1 ORDER BY d.next_attempt LIMIT ?`, until, now.UnixMicro(), limit)
		if err != nil {
			return err
		}
		for _, id := range ids {
			d, err := scanDelivery(w.queryRow(`SELECT `+deliveryColumns+deliveryFrom+` WHERE d.id = ?`, id))
			if err != nil {
				return err
			}
			claimed = append(claimed, d)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return claimed, nil
}

// FinishWebhookDelivery implements store.Events.
func (s *Store) FinishWebhookDelivery(ctx context.Context, r store.WebhookResult) error {
	now := time.Now().UnixMicro()
	return s.write(ctx, func(w *wtx) error {
		var lease int64
		var state int
		err := w.queryRow(`SELECT lease, state FROM webhook_deliveries WHERE id = ?`, r.ID).Scan(&lease, &state)
		if err == sql.ErrNoRows || err == nil && (lease != r.Lease || lease == 0 || state != 0) {
			return fmt.Errorf("webhook delivery %d: %w", r.ID, store.ErrLeaseLost)
		}
		if err != nil {
			return err
		}
		if r.State == store.WebhookPending {
			_, err = w.exec(`UPDATE webhook_deliveries SET attempts = attempts + 1, lease = 0, next_attempt = ?, last_error = ? WHERE id = ?`,
				r.NextAttempt.UnixMicro(), r.LastError, r.ID)
			return err
		}
		_, err = w.exec(`UPDATE webhook_deliveries SET attempts = attempts + 1, lease = 0, state = ?, finished = ?, last_error = ? WHERE id = ?`,
			int(r.State), now, r.LastError, r.ID)
		return err
	})
}

// WebhookDeliveries implements store.Events.
func (s *Store) WebhookDeliveries(ctx context.Context, endpointID int64, limit int) ([]store.WebhookDelivery, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.query(ctx, `SELECT `+deliveryColumns+deliveryFrom+` WHERE d.endpoint_id = ? ORDER BY d.id DESC LIMIT ?`, endpointID, limit)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r *sql.Rows) (store.WebhookDelivery, error) { return scanDelivery(r) })
}
