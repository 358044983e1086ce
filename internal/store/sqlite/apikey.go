package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// HTTP API keys and idempotency records (store.APIKeys).

const apiKeyColumns = `k.id, k.name, d.name, k.address, k.prefix, k.hash, k.created`

func scanAPIKey(r rowScanner) (store.APIKey, error) {
	var k store.APIKey
	var created int64
	err := r.Scan(&k.ID, &k.Name, &k.Domain, &k.Address, &k.Prefix, &k.Hash, &created)
	k.Created = fromMicro(created)
	return k, err
}

// AddAPIKey implements store.APIKeys.
func (s *Store) AddAPIKey(ctx context.Context, k store.APIKey) (store.APIKey, error) {
	if err := k.CheckNew(); err != nil {
		return store.APIKey{}, err
	}
	created := now()
	err := s.write(ctx, func(w *wtx) error {
		dom, err := domainID(w, k.Domain)
		if err != nil {
			return err
		}
		k.ID, err = w.insert(`INSERT INTO api_keys (name, domain_id, address, prefix, hash, created) VALUES (?, ?, ?, ?, ?, ?)`,
			k.Name, dom, k.Address, k.Prefix, k.Hash, created)
		if isUniqueViolation(err) {
			return fmt.Errorf("API key %q: %w", k.Name, store.ErrExists)
		}
		return err
	})
	if err != nil {
		return store.APIKey{}, err
	}
	if err := s.keys.bump(); err != nil {
		return store.APIKey{}, fmt.Errorf("API key %q added, but the key cache version: %w", k.Name, err)
	}
	k.Created = fromMicro(created)
	return k, nil
}

// APIKeys implements store.APIKeys.
func (s *Store) APIKeys(ctx context.Context, domain string) ([]store.APIKey, error) {
	rows, err := s.query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys k JOIN domains d ON d.id = k.domain_id
		WHERE ?1 = '' OR d.name = ?1 ORDER BY k.name`, domain)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r *sql.Rows) (store.APIKey, error) { return scanAPIKey(r) })
}

// APIKeysByPrefix implements store.APIKeys.
// Answers come from the cache while api_keys is unchanged (see keyCache).
func (s *Store) APIKeysByPrefix(ctx context.Context, prefix string) ([]store.APIKey, error) {
	v, ok := s.keys.current()
	if ks, hit := s.keys.get(v, ok, prefix); hit {
		return slices.Clone(ks), nil
	}
	rows, err := s.query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys k JOIN domains d ON d.id = k.domain_id
		WHERE k.prefix = ?`, prefix)
	if err != nil {
		return nil, err
	}
	ks, err := collect(rows, func(r *sql.Rows) (store.APIKey, error) { return scanAPIKey(r) })
	if err == nil {
		s.keys.put(v, ok, prefix, slices.Clone(ks))
	}
	return ks, err
}

// RemoveAPIKey implements store.APIKeys.
func (s *Store) RemoveAPIKey(ctx context.Context, name string) error {
	err := s.write(ctx, func(w *wtx) error {
		res, err := w.exec(`DELETE FROM api_keys WHERE name = ?`, name)
		return mustAffect(res, err, fmt.Sprintf("API key %q", name))
	})
	if err != nil {
		return err
	}
	if err := s.keys.bump(); err != nil {
		return fmt.Errorf("API key %q revoked, but the key cache version: %w", name, err)
	}
	return nil
}

// IdempotencyRecord implements store.APIKeys.
func (s *Store) IdempotencyRecord(ctx context.Context, keyID int64, key string) (store.IdempotencyRecord, error) {
	r := store.IdempotencyRecord{KeyID: keyID, Key: key}
	var created int64
	err := s.queryRow(ctx, `SELECT request_hash, status, response, created FROM idempotency WHERE key_id = ? AND key = ?`,
		keyID, key).Scan(&r.RequestHash, &r.Status, &r.Response, &created)
	if err != nil {
		return store.IdempotencyRecord{}, notFound(err, "idempotency key")
	}
	r.Created = fromMicro(created)
	return r, nil
}

// PruneIdempotency implements store.APIKeys.
func (s *Store) PruneIdempotency(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(w *wtx) error {
		res, err := w.exec(`DELETE FROM idempotency WHERE created < ?`, before.UnixMicro())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// insertIdempotency stores r inside a send's write; a record of the same
// (key, API key) fails the whole write with ErrExists.
func insertIdempotency(w *wtx, r *store.IdempotencyRecord) error {
	if r == nil {
		return nil
	}
	created := r.Created
	if created.IsZero() {
		created = time.Now()
	}
	_, err := w.exec(`INSERT INTO idempotency (key_id, key, request_hash, status, response, created) VALUES (?, ?, ?, ?, ?, ?)`,
		r.KeyID, r.Key, nonNil(r.RequestHash), r.Status, nonNil(r.Response), created.UnixMicro())
	if isUniqueViolation(err) {
		return fmt.Errorf("idempotency key %q: %w", r.Key, store.ErrExists)
	}
	return err
}
