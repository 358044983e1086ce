package postgres

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/posthorn/posthorn/internal/auth"
)

// The login throttle's failure records, shared by every node
// (schema_logins.go): the daemon hands the Store to auth as its
// auth.FailureStore. Every login reads the lockouts of its IP and name;
// a node answers that from failureCache, whose entries every change to
// the key on any node drops (a notification on loginsChannel), so the
// common login, of a name and IP without failures, costs no round trip
// after the first, and its success no write.

var _ auth.FailureStore = (*Store)(nil)

// loginsChannel announces keys of login_failures that changed.
const loginsChannel = "posthorn_logins"

// LoginLockouts implements auth.FailureStore: one read of the keys and
// their overflow records, none when the node has them all cached.
func (s *Store) LoginLockouts(ctx context.Context, keys []string) ([]time.Time, error) {
	fc := &s.caches.failures
	all := withOverflowKeys(keys)
	ents, ok := fc.lookup(all)
	if !ok {
		var err error
		if ents, err = s.readLoginFailures(ctx, all); err != nil {
			return nil, err
		}
	}
	byKey := make(map[string]failureEntry, len(all))
	for i, k := range all {
		byKey[k] = ents[i]
	}
	out := make([]time.Time, len(keys))
	for i, k := range keys {
		e := byKey[k]
		if !e.exists {
			e = byKey[auth.OverflowKey(k)]
		}
		out[i] = fromMicroOrZero(e.lockedUntil)
	}
	return out, nil
}

// withOverflowKeys is keys followed by their overflow keys, each once.
func withOverflowKeys(keys []string) []string {
	all := append([]string(nil), keys...)
	for _, k := range keys {
		if o := auth.OverflowKey(k); !slices.Contains(all, o) {
			all = append(all, o)
		}
	}
	return all
}

// readLoginFailures reads the records of keys, caching what it read.
func (s *Store) readLoginFailures(ctx context.Context, keys []string) ([]failureEntry, error) {
	fc := &s.caches.failures
	pool, err := s.db()
	if err != nil {
		return nil, err
	}
	r := fc.begin(keys)
	defer fc.end(r)
	rows, err := pool.Query(ctx, `SELECT key, locked_until FROM login_failures WHERE key = ANY($1)`, keys)
	if err != nil {
		return nil, s.mapErr(err)
	}
	found := map[string]int64{}
	for rows.Next() {
		var key string
		var until int64
		if err := rows.Scan(&key, &until); err != nil {
			rows.Close()
			return nil, err
		}
		found[key] = until
	}
	if err := rows.Err(); err != nil {
		return nil, s.mapErr(err)
	}
	ents := make([]failureEntry, len(keys))
	for i, k := range keys {
		until, exists := found[k]
		ents[i] = failureEntry{exists: exists, lockedUntil: until}
	}
	if _, live := s.caches.gen.current(); live {
		fc.store(r, ents)
	}
	return ents, nil
}

// AddLoginFailures implements auth.FailureStore: one call of
// posthorn_login_failed, which keeps the bound (schema_logins.go),
// committed asynchronously (asyncCommit). Once a minute it also deletes
// the records whose window and lockout have both ended.
func (s *Store) AddLoginFailures(ctx context.Context, now time.Time, window time.Duration, maxRecords int, keys []auth.FailureKey) ([]auth.FailureCount, error) {
	pool, err := s.db()
	if err != nil {
		return nil, err
	}
	names := make([]string, len(keys))
	limits := make([]int32, len(keys))
	for i, k := range keys {
		names[i], limits[i] = k.Key, int32(k.Limit)
	}
	us := now.UnixMicro()
	if last := s.loginSweep.Load(); us-last >= time.Minute.Microseconds() && s.loginSweep.CompareAndSwap(last, us) {
		if _, err := pool.Exec(ctx, `DELETE FROM login_failures WHERE locked_until <= $1 AND first < $2`, us, us-window.Microseconds()); err != nil {
			return nil, s.mapErr(err)
		}
	}
	rows, err := pool.Query(ctx, `SELECT n, locked, counted FROM posthorn_login_failed($1, $2, $3, $4, $5) CROSS JOIN `+asyncCommit, names, limits, us, window.Microseconds(), maxRecords)
	if err != nil {
		return nil, s.mapErr(err)
	}
	defer rows.Close()
	var out []auth.FailureCount
	changed := names // and the overflow records counted instead
	for rows.Next() {
		var c auth.FailureCount
		var counted string
		if err := rows.Scan(&c.Count, &c.Locked, &counted); err != nil {
			return nil, err
		}
		if !slices.Contains(changed, counted) {
			changed = append(changed, counted)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.mapErr(err)
	}
	s.caches.failures.drop(changed...)
	if len(out) != len(keys) {
		return nil, fmt.Errorf("posthorn_login_failed: %d results for %d keys", len(out), len(keys))
	}
	return out, nil
}

// ClearLoginFailures implements auth.FailureStore: no write when the
// node knows key has no record; committed asynchronously (asyncCommit).
func (s *Store) ClearLoginFailures(ctx context.Context, key string, now time.Time) error {
	if ents, ok := s.caches.failures.lookup([]string{key}); ok && !ents[0].exists {
		return nil
	}
	pool, err := s.db()
	if err != nil {
		return err
	}
	_, err = pool.Exec(ctx, `WITH d AS (DELETE FROM login_failures WHERE key = $1 AND locked_until <= $2 RETURNING key)
		SELECT pg_notify('`+loginsChannel+`', key), `+asyncCommit+` FROM d`, key, now.UnixMicro())
	s.caches.failures.drop(key)
	return s.mapErr(err)
}

// failureCache is a node's copy of what it read of login_failures. A
// key that changed while it was being read (an invalidation arrived
// meanwhile) is not kept, and nothing is kept while the listener is down.
// Invalidations are per key, so failures of other names and IPs (an
// attack elsewhere) do not keep a quiet name from being cached.
type failureCache struct {
	mu      sync.Mutex
	entries map[string]failureEntry
	reading map[*failureRead]struct{} // reads under way
}

type failureEntry struct {
	exists      bool  // a row exists
	lockedUntil int64 // µs, 0: not locked out
}

// failureRead is one read of keys under way; stale marks the keys
// invalidated since it began.
type failureRead struct {
	keys  []string
	stale []bool
}

// failureCacheMax bounds the cache; when full it starts over.
const failureCacheMax = 100_000

func (c *failureCache) lookup(keys []string) ([]failureEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]failureEntry, len(keys))
	for i, k := range keys {
		e, ok := c.entries[k]
		if !ok {
			return nil, false
		}
		out[i] = e
	}
	return out, true
}

// begin registers a read of keys, before its query.
func (c *failureCache) begin(keys []string) *failureRead {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := &failureRead{keys: keys, stale: make([]bool, len(keys))}
	if c.reading == nil {
		c.reading = map[*failureRead]struct{}{}
	}
	c.reading[r] = struct{}{}
	return r
}

// end unregisters a read.
func (c *failureCache) end(r *failureRead) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.reading, r)
}

// store keeps what r read (ents, in r.keys order), but for the keys
// invalidated since it began.
func (c *failureCache) store(r *failureRead, ents []failureEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries)+len(r.keys) > failureCacheMax {
		c.entries = map[string]failureEntry{}
	}
	for i, k := range r.keys {
		if !r.stale[i] {
			c.entries[k] = ents[i]
		}
	}
}

// drop forgets keys (a change on some node), also for reads under way.
func (c *failureCache) drop(keys ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		delete(c.entries, k)
		for r := range c.reading {
			for i, rk := range r.keys {
				if rk == k {
					r.stale[i] = true
				}
			}
		}
	}
}

// reset forgets everything (the listener went down or came back).
func (c *failureCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = nil
	for r := range c.reading {
		for i := range r.stale {
			r.stale[i] = true
		}
	}
}
