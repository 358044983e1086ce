package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/posthorn/posthorn/internal/store"
)

// AddAPIKey implements store.APIKeys; not written yet.
func (s *Store) AddAPIKey(ctx context.Context, k store.APIKey) (store.APIKey, error) {
	return store.APIKey{}, unsupported("AddAPIKey")
}

// APIKeys implements store.APIKeys; not written yet.
func (s *Store) APIKeys(ctx context.Context, domain string) ([]store.APIKey, error) {
	return nil, unsupported("APIKeys")
}

// APIKeysByPrefix implements store.APIKeys; not written yet.
func (s *Store) APIKeysByPrefix(ctx context.Context, prefix string) ([]store.APIKey, error) {
	return nil, unsupported("APIKeysByPrefix")
}

// RemoveAPIKey implements store.APIKeys; not written yet.
func (s *Store) RemoveAPIKey(ctx context.Context, name string) error {
	return unsupported("RemoveAPIKey")
}

// IdempotencyRecord implements store.APIKeys; not written yet.
func (s *Store) IdempotencyRecord(ctx context.Context, keyID int64, key string) (store.IdempotencyRecord, error) {
	return store.IdempotencyRecord{}, unsupported("IdempotencyRecord")
}

// PruneIdempotency implements store.APIKeys; not written yet.
func (s *Store) PruneIdempotency(ctx context.Context, before time.Time) (int, error) {
	return 0, unsupported("PruneIdempotency")
}

// insertIdempotency stores r inside tx, the transaction of the send it
// answers; nil stores nothing. A record of the same (KeyID, Key) fails
// with an error wrapping store.ErrExists. Called by Deliver with
// d.Idempotency.
func insertIdempotency(ctx context.Context, tx pgx.Tx, r *store.IdempotencyRecord) error {
	if r == nil {
		return nil
	}
	return unsupported("idempotency")
}
