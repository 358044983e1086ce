package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// APIKeys holds the keys of the HTTP API (package httpapi) and the answers
// it keeps for Idempotency-Key retries.
//
// A key is a random token shown once when it is made; only its SHA-256
// hash is stored (see httpapi's package doc for why SHA-256 and not
// argon2id), with a short public Prefix of the token to find the row by.
// Removing a key takes effect at the next request: the API reads the row
// for every request and caches nothing. Removing the domain removes its
// keys.
type APIKeys interface {
	// AddAPIKey stores a new key (Name, Domain, Address, Prefix, Hash)
	// and returns it with ID and Created set. Names are unique over the
	// whole store (ErrExists); the domain must exist (ErrUnknownDomain);
	// Address, when set, must be of Domain and Hash must be 32 bytes
	// (ErrInvalid).
	AddAPIKey(ctx context.Context, k APIKey) (APIKey, error)
	// APIKeys lists the keys of one domain, or of all when domain is "",
	// in name order.
	APIKeys(ctx context.Context, domain string) ([]APIKey, error)
	// APIKeysByPrefix returns the keys whose Prefix is prefix (normally
	// one; none is a nil slice, not an error). The caller compares Hash.
	APIKeysByPrefix(ctx context.Context, prefix string) ([]APIKey, error)
	// RemoveAPIKey revokes a key by name (ErrNotFound when there is none)
	// and the idempotency records made with it.
	RemoveAPIKey(ctx context.Context, name string) error

	// IdempotencyRecord returns the record of (keyID, key), ErrNotFound
	// when none was stored. Records are written together with the send
	// they answer: see QueuedMessage.Idempotency and
	// Delivery.Idempotency.
	IdempotencyRecord(ctx context.Context, keyID int64, key string) (IdempotencyRecord, error)
	// PruneIdempotency removes the records created before t and returns
	// how many.
	PruneIdempotency(ctx context.Context, before time.Time) (int, error)
}

// APIKey is one key of the HTTP API, scoped to a domain or to one sending
// address of it.
type APIKey struct {
	ID   int64
	Name string // unique label chosen by the administrator
	// Domain is the domain the key may send from and see.
	Domain string
	// Address narrows sending to this one canonical address of Domain;
	// "" allows every address of Domain.
	Address string
	// Prefix is the public start of the token, shown in listings and
	// used to find the key.
	Prefix string
	// Hash is SHA-256 of the whole token.
	Hash    []byte
	Created time.Time
}

// CheckNew checks a key about to be added (AddAPIKey): a name of 1-64
// characters without control characters, a prefix, a 32-byte hash, and
// an Address, when set, of Domain; ErrInvalid otherwise. Both backends
// use it.
func (k APIKey) CheckNew() error {
	if k.Name == "" || len(k.Name) > 64 || strings.ContainsAny(k.Name, "\t\r\n\x00") {
		return fmt.Errorf("API key name %q: %w", k.Name, ErrInvalid)
	}
	if len(k.Hash) != 32 || k.Prefix == "" {
		return fmt.Errorf("API key %q: hash or prefix missing: %w", k.Name, ErrInvalid)
	}
	if k.Address != "" && !strings.HasSuffix(k.Address, "@"+k.Domain) {
		return fmt.Errorf("API key %q: address %s is not of domain %s: %w", k.Name, k.Address, k.Domain, ErrInvalid)
	}
	return nil
}

// IdempotencyRecord is the stored answer to a request that carried an
// Idempotency-Key: a retry with the same key gets it back and sends
// nothing.
type IdempotencyRecord struct {
	KeyID int64  // the APIKey.ID that made the request
	Key   string // the Idempotency-Key header value
	// RequestHash is a digest of the request (method, path, body): the
	// same key with another request is refused.
	RequestHash []byte
	Status      int    // HTTP status of the answer
	Response    []byte // the answer's body
	Created     time.Time
}
