package sqlite

import (
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"sync"

	"github.com/posthorn/posthorn/internal/store"
)

// keyCache keeps APIKeysByPrefix's answers in memory, so that the HTTP
// API's per-request key lookup is not a query (measured: a fifth of the
// API's handler CPU). Several processes share the database (the `apikey
// revoke` command is another process than the server), so the cache is
// checked against a version file beside the database, <db>-keys: 16
// random bytes that every change to api_keys (add, remove, a domain's
// removal) overwrites in place, after its commit and before it returns.
// Each process maps the file (shared), so reading the version costs no
// system call, and uses only entries filled under the version it reads:
// a revocation takes effect at once in every process. Where the file
// cannot be mapped nothing is cached.
type keyCache struct {
	path string // the version file

	mu      sync.Mutex
	f       *os.File // the version file, open for writing; nil: no cache
	ver     []byte   // its mapping (16 bytes); nil: no cache
	version [versionLen]byte
	entries map[string][]store.APIKey // prefix -> keys, under version
}

const versionLen = 16

// keyCacheMax bounds the entries (prefixes with a key; unknown prefixes
// are not cached).
const keyCacheMax = 10_000

func newKeyCache(dbPath string) *keyCache {
	c := &keyCache{path: dbPath + "-keys"}
	f, err := os.OpenFile(c.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return c
	}
	if fi, err := f.Stat(); err != nil || fi.Size() < versionLen {
		if err := writeVersion(f); err != nil {
			f.Close()
			return c
		}
	}
	if c.ver, err = mapVersion(f, versionLen); err != nil {
		f.Close()
		return c
	}
	c.f = f
	return c
}

func writeVersion(f *os.File) error {
	var v [versionLen]byte
	rand.Read(v[:])
	_, err := f.WriteAt(v[:], 0)
	return err
}

// current reads the version; ok is false when there is none.
func (c *keyCache) current() (v [versionLen]byte, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ver == nil {
		return v, false
	}
	copy(v[:], c.ver)
	return v, true
}

// get returns the cached keys of prefix under version v.
func (c *keyCache) get(v [versionLen]byte, ok bool, prefix string) ([]store.APIKey, bool) {
	if !ok {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != v {
		return nil, false
	}
	ks, hit := c.entries[prefix]
	return ks, hit
}

// put caches keys of prefix, read from the database after version v was
// read.
func (c *keyCache) put(v [versionLen]byte, ok bool, prefix string, keys []store.APIKey) {
	if !ok || len(keys) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != v || len(c.entries) >= keyCacheMax {
		c.version, c.entries = v, map[string][]store.APIKey{}
	}
	c.entries[prefix] = keys
}

// bump writes a new version after a change to api_keys was committed.
// An error means other processes may go on using the old keys.
func (c *keyCache) bump() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = nil
	if c.f != nil {
		return writeVersion(c.f)
	}
	// Not mapped here (or closed): other processes may have it mapped.
	f, err := os.OpenFile(c.path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // no process caches
	}
	if err != nil {
		return err
	}
	defer f.Close()
	return writeVersion(f)
}

// close unmaps and closes the version file.
func (c *keyCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ver != nil {
		unmapVersion(c.ver)
		c.ver = nil
	}
	if c.f != nil {
		c.f.Close()
		c.f = nil
	}
}
