package postgres

import (
	"slices"
	"sync"

	"github.com/posthorn/posthorn/internal/store"
)

// keyCache keeps APIKeysByPrefix's answers in memory, so that the HTTP
// API's per-request key lookup is not a query. It is valid under one
// generation (caches.go): a key revoked on any node is dropped from
// every node's cache when the revocation's notification arrives (and on
// the revoking node before RemoveAPIKey returns).
type keyCache struct {
	mu      sync.Mutex
	gen     uint64
	entries map[string][]store.APIKey // prefix -> keys, under gen
}

// keyCacheMax bounds the entries (prefixes with a key; unknown prefixes
// are not cached).
const keyCacheMax = 10_000

// get returns the cached keys of prefix under generation gen.
func (c *keyCache) get(gen uint64, live bool, prefix string) ([]store.APIKey, bool) {
	if !live {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return nil, false
	}
	ks, ok := c.entries[prefix]
	return slices.Clone(ks), ok
}

// put caches keys of prefix, read from the database after generation gen
// was read; now is the generation at the time of the put. A generation
// that moved on meanwhile (a change was notified) keeps the read out.
func (c *keyCache) put(gen, now uint64, live bool, prefix string, keys []store.APIKey) {
	if !live || gen != now || len(keys) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || len(c.entries) >= keyCacheMax {
		c.gen, c.entries = gen, map[string][]store.APIKey{}
	}
	c.entries[prefix] = slices.Clone(keys)
}
