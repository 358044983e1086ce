package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"
)

// loginCache remembers recent successful password checks, so that a client
// logging in again and again (IMAP clients open several connections and
// reconnect all day; POP3 clients poll) does not cost an argon2id run
// (~20-30 ms of CPU and 19 MiB) each time. Dovecot's auth_cache does the
// same job.
//
// What it keeps: for each (name, password) that passed, an HMAC-SHA256
// digest under a random key that lives only in this process, the stored
// hash the password matched, what matched ("password", "app password X")
// and an expiry. No password is kept. A hit counts only while the
// account's stored hash is still the one that matched, so a password
// change or a revoked app password ends it at once; failures are never
// cached, so throttling sees every wrong guess.
//
// The cost: someone who can read this process's memory can test guesses
// against a cached digest at HMAC speed instead of argon2id speed. Such a
// reader also sees passwords in flight, so this adds little; operators
// who disagree set auth.login_cache to 0.
type loginCache struct {
	ttl time.Duration
	max int
	key []byte

	mu      sync.Mutex
	entries map[[sha256.Size]byte]cachedLogin
}

type cachedLogin struct {
	hash    string // the stored argon2id hash the password matched
	how     string
	expires time.Time
}

// maxCachedLogins bounds the cache's memory (about 200 bytes an entry).
const maxCachedLogins = 50000

func newLoginCache(ttl time.Duration) *loginCache {
	if ttl <= 0 {
		return nil
	}
	key := make([]byte, 32)
	rand.Read(key)
	return &loginCache{ttl: ttl, max: maxCachedLogins, key: key, entries: make(map[[sha256.Size]byte]cachedLogin)}
}

func (c *loginCache) digest(user, password string) [sha256.Size]byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(user))
	m.Write([]byte{0})
	m.Write([]byte(password))
	var d [sha256.Size]byte
	m.Sum(d[:0])
	return d
}

// lookup returns the cached check of (user, password) if it has not
// expired and current accepts the hash it matched.
func (c *loginCache) lookup(user, password string, now time.Time, current func(hash string) bool) (how string, ok bool) {
	if c == nil {
		return "", false
	}
	d := c.digest(user, password)
	c.mu.Lock()
	e, found := c.entries[d]
	if found && !now.Before(e.expires) {
		delete(c.entries, d)
		found = false
	}
	c.mu.Unlock()
	if !found || !current(e.hash) {
		return "", false
	}
	return e.how, true
}

// add records a successful check of password against hash.
func (c *loginCache) add(user, password, hash, how string, now time.Time) {
	if c == nil {
		return
	}
	d := c.digest(user, password)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		c.evict(now)
	}
	c.entries[d] = cachedLogin{hash: hash, how: how, expires: now.Add(c.ttl)}
}

// evict drops expired entries, and when none had expired, an arbitrary
// tenth of the rest (map order): a full cache only costs hash runs.
func (c *loginCache) evict(now time.Time) {
	for d, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, d)
		}
	}
	for d := range c.entries {
		if len(c.entries) < c.max*9/10 {
			break
		}
		delete(c.entries, d)
	}
}
