package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/names"
)

// Suppression lists (store.Events): one row per (domain, address), the
// address in lower case so that lookups ignore case.

const suppressionColumns = `domain, address, reason, created, event_id`

func scanSuppression(row pgx.Rows) (store.Suppression, error) {
	var s store.Suppression
	var created int64
	err := row.Scan(&s.Domain, &s.Address, &s.Reason, &created, &s.EventID)
	s.Created = fromMicro(created)
	return s, err
}

// Suppressed implements store.Events: one query for all of addrs,
// answered in addrs order.
func (s *Store) Suppressed(ctx context.Context, domain string, addrs []string) ([]store.Suppression, error) {
	lower := make([]string, len(addrs))
	for i, a := range addrs {
		lower[i] = strings.ToLower(a)
	}
	out, err := queryAll(s, ctx, `SELECT `+suppressionColumns+` FROM suppressions
		JOIN unnest($2::text[]) WITH ORDINALITY a (addr, n) ON address = a.addr
		WHERE domain = $1 ORDER BY a.n`, []any{strings.ToLower(domain), lower}, scanSuppression)
	if out == nil && err == nil {
		out = []store.Suppression{}
	}
	return out, err
}

// Suppressions implements store.Events.
func (s *Store) Suppressions(ctx context.Context, domain string, after string, limit int) ([]store.Suppression, error) {
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	return queryAll(s, ctx, `SELECT `+suppressionColumns+` FROM suppressions WHERE domain = $1 AND address > $2
		ORDER BY address LIMIT $3`, []any{strings.ToLower(domain), strings.ToLower(after), lim}, scanSuppression)
}

// AddSuppression implements store.Events.
func (s *Store) AddSuppression(ctx context.Context, sup store.Suppression) error {
	sup.Reason = store.ValidText(sup.Reason) // PostgreSQL text: no NUL, no invalid UTF-8
	sup, err := names.Suppression(sup)
	if err != nil {
		return err
	}
	pool, err := s.db()
	if err != nil {
		return err
	}
	var known, added bool
	err = pool.QueryRow(ctx, `
		WITH dom AS (SELECT 1 FROM domains WHERE name = $1),
		ins AS (INSERT INTO suppressions (`+suppressionColumns+`) SELECT $1, $2, $3, $4, $5 FROM dom
			ON CONFLICT DO NOTHING RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM dom), EXISTS (SELECT 1 FROM ins)`,
		sup.Domain, sup.Address, sup.Reason, sup.Created.UnixMicro(), sup.EventID).Scan(&known, &added)
	switch {
	case err != nil:
		return s.mapErr(err)
	case !known:
		return fmt.Errorf("suppression: domain %q: %w", sup.Domain, store.ErrUnknownDomain)
	case !added:
		return fmt.Errorf("suppression %s: %w", sup.Address, store.ErrExists)
	}
	return nil
}

// RemoveSuppression implements store.Events.
func (s *Store) RemoveSuppression(ctx context.Context, domain, address string) error {
	return s.write(ctx, func(tx pgx.Tx, _ *touched) error {
		tag, err := tx.Exec(ctx, `DELETE FROM suppressions WHERE domain = $1 AND address = $2`, strings.ToLower(domain), strings.ToLower(address))
		return mustAffect(tag, err, "suppression "+address)
	})
}

// suppressHardBounces puts the recipients of bounced events whose reply
// is a hard bounce on their domain's suppression list (keeping an
// existing entry), inside tx.
func suppressHardBounces(ctx context.Context, tx pgx.Tx, evs []store.Event) error {
	var domains, addrs, reasons, eventIDs []string
	var times []int64
	for _, e := range evs {
		if e.Type != store.EventBounced || !store.HardBounce(e.Reply) {
			continue
		}
		domains, addrs = append(domains, strings.ToLower(e.Domain)), append(addrs, strings.ToLower(e.Recipient))
		reasons, eventIDs = append(reasons, "hard bounce: "+store.ValidText(e.Reply)), append(eventIDs, e.ID)
		times = append(times, e.Time.UnixMicro())
	}
	if len(addrs) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO suppressions (`+suppressionColumns+`)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[]) ON CONFLICT DO NOTHING`,
		domains, addrs, reasons, times, eventIDs)
	return err
}
