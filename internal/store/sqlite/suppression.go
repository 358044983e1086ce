package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/names"
)

// Suppression lists (store.Events): one row per (domain, address), the
// address in lower case so that lookups ignore case.

const suppressionColumns = `domain, address, reason, created, event_id`

func scanSuppression(r rowScanner) (store.Suppression, error) {
	var s store.Suppression
	var created int64
	err := r.Scan(&s.Domain, &s.Address, &s.Reason, &created, &s.EventID)
	s.Created = fromMicro(created)
	return s, err
}

// Suppressed implements store.Events.
func (s *Store) Suppressed(ctx context.Context, domain string, addrs []string) ([]store.Suppression, error) {
	out := []store.Suppression{}
	for _, a := range addrs {
		sup, err := scanSuppression(s.queryRow(ctx, `SELECT `+suppressionColumns+` FROM suppressions WHERE domain = ? AND address = ?`,
			strings.ToLower(domain), strings.ToLower(a)))
		if err == sql.ErrNoRows {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, sup)
	}
	return out, nil
}

// Suppressions implements store.Events.
func (s *Store) Suppressions(ctx context.Context, domain string, after string, limit int) ([]store.Suppression, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.query(ctx, `SELECT `+suppressionColumns+` FROM suppressions WHERE domain = ? AND address > ? ORDER BY address LIMIT ?`,
		strings.ToLower(domain), strings.ToLower(after), limit)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r *sql.Rows) (store.Suppression, error) { return scanSuppression(r) })
}

// AddSuppression implements store.Events.
func (s *Store) AddSuppression(ctx context.Context, sup store.Suppression) error {
	sup, err := names.Suppression(sup)
	if err != nil {
		return err
	}
	return s.write(ctx, func(w *wtx) error {
		var one int
		if err := w.queryRow(`SELECT 1 FROM domains WHERE name = ?`, sup.Domain).Scan(&one); err != nil {
			if err == sql.ErrNoRows {
				return fmt.Errorf("suppression: domain %q: %w", sup.Domain, store.ErrUnknownDomain)
			}
			return err
		}
		_, err := w.exec(`INSERT INTO suppressions (`+suppressionColumns+`) VALUES (?, ?, ?, ?, ?)`,
			sup.Domain, sup.Address, sup.Reason, sup.Created.UnixMicro(), sup.EventID)
		if isUniqueViolation(err) {
			return fmt.Errorf("suppression %s: %w", sup.Address, store.ErrExists)
		}
		return err
	})
}

// RemoveSuppression implements store.Events.
func (s *Store) RemoveSuppression(ctx context.Context, domain, address string) error {
	return s.write(ctx, func(w *wtx) error {
		res, err := w.exec(`DELETE FROM suppressions WHERE domain = ? AND address = ?`, strings.ToLower(domain), strings.ToLower(address))
		return mustAffect(res, err, "suppression "+address)
	})
}

// suppressHardBounces puts the recipients of bounced events whose reply
// is a hard bounce on their domain's suppression list (keeping an
// existing entry).
func (w *wtx) suppressHardBounces(evs []store.Event) error {
	for _, e := range evs {
		if e.Type != store.EventBounced || !store.HardBounce(e.Reply) {
			continue
		}
		if _, err := w.exec(`INSERT INTO suppressions (`+suppressionColumns+`) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			strings.ToLower(e.Domain), strings.ToLower(e.Recipient), "hard bounce: "+e.Reply, e.Time.UnixMicro(), e.ID); err != nil {
			return err
		}
	}
	return nil
}
