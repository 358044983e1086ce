package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/posthorn/posthorn/internal/store"
)

// HTTP API keys and idempotency records (store.APIKeys). Lookups by
// prefix are answered from keyCache, kept right across nodes by
// LISTEN/NOTIFY (caches.go).

const apiKeyColumns = `k.id, k.name, d.name, k.address, k.prefix, k.hash, k.created`

const apiKeyFrom = ` FROM api_keys k JOIN domains d ON d.id = k.domain_id`

func scanAPIKey(row pgx.Rows) (store.APIKey, error) {
	var k store.APIKey
	var created int64
	err := row.Scan(&k.ID, &k.Name, &k.Domain, &k.Address, &k.Prefix, &k.Hash, &created)
	k.Created = fromMicro(created)
	return k, err
}

// AddAPIKey implements store.APIKeys.
func (s *Store) AddAPIKey(ctx context.Context, k store.APIKey) (store.APIKey, error) {
	if err := k.CheckNew(); err != nil {
		return store.APIKey{}, err
	}
	pool, err := s.db()
	if err != nil {
		return store.APIKey{}, err
	}
	created := time.Now().UTC().Truncate(time.Microsecond)
	var known bool
	var id *int64
	err = pool.QueryRow(ctx, `
		WITH dom AS (SELECT id FROM domains WHERE name = $2),
		ins AS (INSERT INTO api_keys (name, domain_id, address, prefix, hash, created)
			SELECT $1, dom.id, $3, $4, $5, $6 FROM dom ON CONFLICT (name) DO NOTHING RETURNING id)
		SELECT EXISTS (SELECT 1 FROM dom), (SELECT id FROM ins)`,
		k.Name, k.Domain, k.Address, k.Prefix, k.Hash, created.UnixMicro()).Scan(&known, &id)
	switch {
	case err != nil:
		return store.APIKey{}, s.mapErr(err)
	case !known:
		return store.APIKey{}, fmt.Errorf("API key %q: domain %s: %w", k.Name, k.Domain, store.ErrUnknownDomain)
	case id == nil:
		return store.APIKey{}, fmt.Errorf("API key %q: %w", k.Name, store.ErrExists)
	}
	s.caches.gen.bump()
	k.ID, k.Created = *id, created
	return k, nil
}

// APIKeys implements store.APIKeys.
func (s *Store) APIKeys(ctx context.Context, domain string) ([]store.APIKey, error) {
	return queryAll(s, ctx, `SELECT `+apiKeyColumns+apiKeyFrom+` WHERE $1 = '' OR d.name = $1 ORDER BY k.name`, []any{domain}, scanAPIKey)
}

// APIKeysByPrefix implements store.APIKeys. Answers come from keyCache
// while no change to api_keys has been notified.
func (s *Store) APIKeysByPrefix(ctx context.Context, prefix string) ([]store.APIKey, error) {
	gen, live := s.caches.gen.current()
	if ks, hit := s.caches.keys.get(gen, live, prefix); hit {
		return ks, nil
	}
	ks, err := queryAll(s, ctx, `SELECT `+apiKeyColumns+apiKeyFrom+` WHERE k.prefix = $1`, []any{prefix}, scanAPIKey)
	if err != nil {
		return nil, err
	}
	now, live := s.caches.gen.current()
	s.caches.keys.put(gen, now, live, prefix, ks)
	return ks, nil
}

// RemoveAPIKey implements store.APIKeys. The trigger on api_keys tells
// the other nodes; this one drops its cache before returning.
func (s *Store) RemoveAPIKey(ctx context.Context, name string) error {
	pool, err := s.db()
	if err != nil {
		return err
	}
	tag, err := pool.Exec(ctx, `DELETE FROM api_keys WHERE name = $1`, name)
	if err := mustAffect(tag, s.mapErr(err), fmt.Sprintf("API key %q", name)); err != nil {
		return err
	}
	s.caches.gen.bump()
	return nil
}

// IdempotencyRecord implements store.APIKeys.
func (s *Store) IdempotencyRecord(ctx context.Context, keyID int64, key string) (store.IdempotencyRecord, error) {
	r := store.IdempotencyRecord{KeyID: keyID, Key: key}
	var created int64
	err := s.queryRow(ctx, `SELECT request_hash, status, response, created FROM idempotency WHERE key_id = $1 AND key = $2`,
		[]any{keyID, key}, &r.RequestHash, &r.Status, &r.Response, &created)
	if err != nil {
		return store.IdempotencyRecord{}, notFound(err, "idempotency key")
	}
	r.Created = fromMicro(created)
	return r, nil
}

// PruneIdempotency implements store.APIKeys.
func (s *Store) PruneIdempotency(ctx context.Context, before time.Time) (int, error) {
	pool, err := s.db()
	if err != nil {
		return 0, err
	}
	tag, err := pool.Exec(ctx, `DELETE FROM idempotency WHERE created < $1`, before.UnixMicro())
	if err != nil {
		return 0, s.mapErr(err)
	}
	return int(tag.RowsAffected()), nil
}

// insertIdempotency stores r inside tx, the transaction of the send it
// answers; nil stores nothing. A record of the same (KeyID, Key) fails
// with an error wrapping store.ErrExists. The insert is ON CONFLICT DO
// NOTHING, so that failure leaves tx usable (a group commit can roll
// back to a savepoint); a concurrent insert of the same key waits for the
// other transaction and then fails the same way if it committed.
func insertIdempotency(ctx context.Context, tx pgx.Tx, r *store.IdempotencyRecord) error {
	if r == nil {
		return nil
	}
	created := r.Created
	if created.IsZero() {
		created = time.Now()
	}
	tag, err := tx.Exec(ctx, `INSERT INTO idempotency (key_id, key, request_hash, status, response, created)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		r.KeyID, r.Key, nonNil(r.RequestHash), r.Status, nonNil(r.Response), created.UnixMicro())
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("idempotency key %q: %w", r.Key, store.ErrExists)
	}
	return nil
}
