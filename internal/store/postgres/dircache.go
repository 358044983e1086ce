package postgres

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/posthorn/posthorn/internal/store"
)

// dirCache keeps the answers of the directory reads that every SMTP
// recipient and AUTH makes (HasDomain, Account, Alias, Credentials: what
// store.Resolve and the submission checks call) in memory, not-found
// answers included, so that a RCPT is no round trip to the database.
// It is valid under one generation (caches.go): every write to domains,
// accounts, aliases or alias_targets notifies every node at its commit
// (schema_directory.go), and this node's own directory writes move the
// generation on after their commit, before they return (writeDirectory).
// So a node never answers from before a write it has returned from;
// another node may for the notification's delay (milliseconds), and
// caches nothing while its listener is down.
type dirCache struct {
	mu      sync.Mutex
	gen     uint64
	entries map[dirKey]dirEntry // under gen
}

// dirKey names one cached read: kind is 'd' (HasDomain), 'a' (Account),
// 'l' (Alias) or 'c' (Credentials).
type dirKey struct {
	kind byte
	name string
}

// dirEntry is one read's answer: the value, or err (a not-found error;
// other errors are not cached).
type dirEntry struct {
	domain bool
	acct   store.Account
	cred   store.Credentials
	alias  []string
	err    error
}

// dirCacheMax bounds the entries; a full cache starts again empty.
const dirCacheMax = 100_000

func (c *dirCache) get(gen uint64, live bool, k dirKey) (dirEntry, bool) {
	if !live {
		return dirEntry{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return dirEntry{}, false
	}
	e, ok := c.entries[k]
	return e, ok
}

// put caches e, read from the database after generation gen was read;
// now is the generation after the read. A generation that moved on
// meanwhile (a change committed) keeps the read out.
func (c *dirCache) put(gen, now uint64, live bool, k dirKey, e dirEntry) {
	if !live || gen != now {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || len(c.entries) >= dirCacheMax {
		c.gen, c.entries = gen, map[dirKey]dirEntry{}
	}
	c.entries[k] = e
}

// cachedDir answers k from the cache, or with load, caching its answer
// when it is a value or a not-found error.
func (s *Store) cachedDir(k dirKey, load func() (dirEntry, error)) (dirEntry, error) {
	if _, err := s.db(); err != nil {
		return dirEntry{}, err
	}
	gen, live := s.caches.gen.current()
	if e, ok := s.caches.directory.get(gen, live, k); ok {
		return e, e.err
	}
	e, err := load()
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return dirEntry{}, err
	}
	e.err = err
	now, live := s.caches.gen.current()
	s.caches.directory.put(gen, now, live, k, e)
	return e, err
}

// writeDirectory is write for changes to the directory tables: the
// cache's generation moves on after the commit, before it returns (the
// triggers tell the other nodes, and this one again, later).
func (s *Store) writeDirectory(ctx context.Context, fn func(tx pgx.Tx, t *touched) error) error {
	defer s.caches.gen.bump()
	return s.write(ctx, fn)
}

// HasDomain implements store.Directory.
func (s *Store) HasDomain(ctx context.Context, name string) (bool, error) {
	e, err := s.cachedDir(dirKey{'d', name}, func() (dirEntry, error) {
		var ok bool
		err := s.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM domains WHERE name = $1)`, []any{name}, &ok)
		return dirEntry{domain: ok}, err
	})
	return e.domain, err
}

// Account implements store.Directory.
func (s *Store) Account(ctx context.Context, address string) (store.Account, error) {
	e, err := s.cachedDir(dirKey{'a', address}, func() (dirEntry, error) {
		a, err := s.loadAccount(ctx, address)
		return dirEntry{acct: a}, err
	})
	return e.acct, err
}

// Credentials implements store.Directory.
func (s *Store) Credentials(ctx context.Context, address string) (store.Account, store.Credentials, error) {
	e, err := s.cachedDir(dirKey{'c', address}, func() (dirEntry, error) {
		a, c, err := s.loadCredentials(ctx, address)
		return dirEntry{acct: a, cred: c}, err
	})
	if err != nil {
		return store.Account{}, store.Credentials{}, err
	}
	c := e.cred
	c.SCRAM.Salt = bytes.Clone(c.SCRAM.Salt)
	c.SCRAM.StoredKey = bytes.Clone(c.SCRAM.StoredKey)
	c.SCRAM.ServerKey = bytes.Clone(c.SCRAM.ServerKey)
	return e.acct, c, nil
}

// Alias implements store.Directory.
func (s *Store) Alias(ctx context.Context, address string) (store.Alias, error) {
	e, err := s.cachedDir(dirKey{'l', address}, func() (dirEntry, error) {
		a, err := s.loadAlias(ctx, address)
		return dirEntry{alias: a.Targets}, err
	})
	if err != nil {
		return store.Alias{}, err
	}
	return store.Alias{Address: address, Targets: slices.Clone(e.alias)}, nil
}
