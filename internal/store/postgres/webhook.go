package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/posthorn/posthorn/internal/store"
)

// Webhook endpoints and the delivery outbox (store.Events). Endpoint
// types are a comma-separated list ('' = all), matched in SQL by
// addEvents. Deliveries are claimed like queued messages (queue.go): FOR
// UPDATE SKIP LOCKED, a token from lease_tokens, next_attempt set to the
// lease's end, so the partial index webhook_due finds due deliveries and
// expired leases alike.

const endpointColumns = `id, domain, url, secret, types, enabled, pattern, keep, created`

func scanEndpoint(row pgx.Rows) (store.WebhookEndpoint, error) {
	var e store.WebhookEndpoint
	var types string
	var created int64
	err := row.Scan(&e.ID, &e.Domain, &e.URL, &e.Secret, &types, &e.Enabled, &e.Pattern, &e.Keep, &created)
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
	pool, err := s.db()
	if err != nil {
		return store.WebhookEndpoint{}, err
	}
	err = pool.QueryRow(ctx, `INSERT INTO webhook_endpoints (domain, url, secret, types, enabled, pattern, keep, created)
		SELECT name, $2, $3, $4, $5, $6, $7, $8 FROM domains WHERE name = $1 RETURNING id`,
		e.Domain, e.URL, e.Secret, types, e.Enabled, e.Pattern, e.Keep, e.Created.UnixMicro()).Scan(&e.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.WebhookEndpoint{}, fmt.Errorf("webhook: domain %q: %w", e.Domain, store.ErrUnknownDomain)
	}
	if err != nil {
		return store.WebhookEndpoint{}, s.mapErr(err)
	}
	s.caches.gen.bump()
	return e, nil
}

// WebhookEndpoints implements store.Events.
func (s *Store) WebhookEndpoints(ctx context.Context, domain string) ([]store.WebhookEndpoint, error) {
	return queryAll(s, ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE $1 = '' OR domain = $1 ORDER BY id`, []any{strings.ToLower(domain)}, scanEndpoint)
}

// WebhookEndpoint implements store.Events.
func (s *Store) WebhookEndpoint(ctx context.Context, id int64) (store.WebhookEndpoint, error) {
	eps, err := queryAll(s, ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE id = $1`, []any{id}, scanEndpoint)
	if err != nil {
		return store.WebhookEndpoint{}, err
	}
	if len(eps) == 0 {
		return store.WebhookEndpoint{}, fmt.Errorf("webhook endpoint %d: %w", id, store.ErrNotFound)
	}
	return eps[0], nil
}

// SetWebhookEnabled implements store.Events.
func (s *Store) SetWebhookEnabled(ctx context.Context, id int64, enabled bool) error {
	return s.changeEndpoint(ctx, id, `UPDATE webhook_endpoints SET enabled = $2 WHERE id = $1`, enabled)
}

// RemoveWebhookEndpoint implements store.Events.
func (s *Store) RemoveWebhookEndpoint(ctx context.Context, id int64) error {
	return s.changeEndpoint(ctx, id, `DELETE FROM webhook_endpoints WHERE id = $1`)
}

// changeEndpoint runs query with $1 = id and args (ErrNotFound when no
// row matched) and drops this node's subscription cache.
func (s *Store) changeEndpoint(ctx context.Context, id int64, query string, args ...any) error {
	pool, err := s.db()
	if err != nil {
		return err
	}
	tag, err := pool.Exec(ctx, query, append([]any{id}, args...)...)
	s.caches.gen.bump()
	return mustAffect(tag, s.mapErr(err), fmt.Sprintf("webhook endpoint %d", id))
}

// WebhookSubscribed implements store.Events, from endpointCache: every
// endpoint, kept in memory while no change to webhook_endpoints has been
// notified (caches.go).
func (s *Store) WebhookSubscribed(ctx context.Context, domain string, t store.EventType) (bool, error) {
	eps, err := s.caches.endpoints.get(&s.caches.gen, func() ([]store.WebhookEndpoint, error) { return s.WebhookEndpoints(ctx, "") })
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

// endpointCache holds every endpoint for WebhookSubscribed: the table is
// small and the MX asks for every message.
type endpointCache struct {
	mu     sync.Mutex
	gen    uint64
	filled bool
	eps    []store.WebhookEndpoint
}

// get returns the endpoints cached under the current generation, or
// loads them (and caches them if no change was notified meanwhile).
func (c *endpointCache) get(g *generation, load func() ([]store.WebhookEndpoint, error)) ([]store.WebhookEndpoint, error) {
	gen, live := g.current()
	c.mu.Lock()
	if live && c.filled && c.gen == gen {
		eps := c.eps
		c.mu.Unlock()
		return eps, nil
	}
	c.mu.Unlock()
	eps, err := load()
	if err != nil {
		return nil, err
	}
	if now, live := g.current(); live && now == gen {
		c.mu.Lock()
		c.gen, c.filled, c.eps = gen, true, eps
		c.mu.Unlock()
	}
	return eps, nil
}

const deliveryColumns = `d.id, d.endpoint_id, p.url, p.secret, d.state, d.attempts, d.created, d.next_attempt, d.finished, d.last_error, d.lease,
	e.seq, e.id, e.time, e.type, e.domain, e.message, e.recipient, e.reply, e.next_attempt, e.data`

// deliveryJoins joins a delivery d with its endpoint p and event e.
const deliveryJoins = ` JOIN webhook_endpoints p ON p.id = d.endpoint_id JOIN events e ON e.seq = d.event_seq`

func scanDelivery(row pgx.Rows) (store.WebhookDelivery, error) {
	var d store.WebhookDelivery
	var created, next, finished, evTime, evNext int64
	var typ string
	var data []byte
	err := row.Scan(&d.ID, &d.EndpointID, &d.URL, &d.Secret, &d.State, &d.Attempts, &created, &next, &finished, &d.LastError, &d.Lease,
		&d.Event.Seq, &d.Event.ID, &evTime, &typ, &d.Event.Domain, &d.Event.Message, &d.Event.Recipient, &d.Event.Reply, &evNext, &data)
	d.Created, d.NextAttempt, d.Finished = fromMicro(created), fromMicro(next), fromMicroOrZero(finished)
	d.Event.Time, d.Event.Type, d.Event.NextAttempt = fromMicro(evTime), store.EventType(typ), fromMicroOrZero(evNext)
	if len(data) > 0 {
		d.Event.Data = data
	}
	d.Event.Endpoint = d.EndpointID
	return d, err
}

// ClaimWebhookDeliveries implements store.Events: one statement, as
// ClaimQueued.
func (s *Store) ClaimWebhookDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.WebhookDelivery, error) {
	if limit <= 0 || lease <= 0 {
		return nil, fmt.Errorf("claim webhook deliveries: limit and lease must be positive: %w", store.ErrInvalid)
	}
	return queryAll(s, ctx, `
		WITH due AS (
			SELECT d.id, d.next_attempt FROM webhook_deliveries d
			WHERE d.state = 0 AND d.next_attempt <= $1
				AND EXISTS (SELECT 1 FROM webhook_endpoints p WHERE p.id = d.endpoint_id AND p.enabled)
			ORDER BY d.next_attempt LIMIT $2 FOR UPDATE OF d SKIP LOCKED
		), leased AS (
			UPDATE webhook_deliveries w SET lease = nextval('lease_tokens'), next_attempt = $3 FROM due WHERE w.id = due.id
			RETURNING w.*, due.next_attempt AS due_at
		)
		SELECT `+deliveryColumns+` FROM leased d`+deliveryJoins+` ORDER BY d.due_at, d.id`, []any{now.UnixMicro(), limit, now.Add(lease).UnixMicro()}, scanDelivery)
}

// FinishWebhookDelivery implements store.Events: one conditional UPDATE
// (the row lock orders it against claims); no row means the lease is
// lost.
func (s *Store) FinishWebhookDelivery(ctx context.Context, r store.WebhookResult) error {
	pool, err := s.db()
	if err != nil {
		return err
	}
	// Pending: due again at $4. Delivered or failed: finished at $4.
	tag, err := pool.Exec(ctx, `UPDATE webhook_deliveries SET attempts = attempts + 1, lease = 0, last_error = $5, state = $3::smallint,
			next_attempt = CASE WHEN $3::smallint = 0 THEN $4 ELSE next_attempt END,
			finished = CASE WHEN $3::smallint = 0 THEN 0 ELSE $4 END
		WHERE id = $1 AND lease = $2 AND lease <> 0 AND state = 0`,
		r.ID, r.Lease, int16(r.State), finishTime(r), store.ValidText(r.LastError))
	if err != nil {
		return s.mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("webhook delivery %d: %w", r.ID, store.ErrLeaseLost)
	}
	return nil
}

// finishTime is a result's next attempt when pending, else now.
func finishTime(r store.WebhookResult) int64 {
	if r.State == store.WebhookPending {
		return r.NextAttempt.UnixMicro()
	}
	return time.Now().UnixMicro()
}

// WebhookDeliveries implements store.Events.
func (s *Store) WebhookDeliveries(ctx context.Context, endpointID int64, limit int) ([]store.WebhookDelivery, error) {
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	return queryAll(s, ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries d`+deliveryJoins+`
		WHERE d.endpoint_id = $1 ORDER BY d.id DESC LIMIT $2`, []any{endpointID, lim}, scanDelivery)
}
