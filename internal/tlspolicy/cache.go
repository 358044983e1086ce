package tlspolicy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/posthorn/posthorn/internal/dns"
)

// retryFetchAfter is how long a failed policy fetch is not tried again
// for the same domain and id, so a broken policy host does not cost a
// fetch per message.
const retryFetchAfter = 5 * time.Minute

// stsCache keeps MTA-STS policies by domain, in memory and, with a
// directory, in one JSON file per domain written atomically (temporary
// file, fsync, rename), so policies survive restarts (RFC 8461 §5.1).
type stsCache struct {
	dir string

	mu       sync.Mutex
	policies map[string]*STSPolicy
	failed   map[string]failure       // domain → last failed fetch
	fetching map[string]chan struct{} // domain → closed when its fetch ends
}

type failure struct {
	id string
	at time.Time
}

// cachedPolicy is the file format.
type cachedPolicy struct {
	Domain  string    `json:"domain"`
	ID      string    `json:"id"`
	Mode    Mode      `json:"mode"`
	MX      []string  `json:"mx"`
	MaxAge  int64     `json:"max_age"`
	Fetched time.Time `json:"fetched"`
}

func newSTSCache(dir string) (*stsCache, error) {
	c := &stsCache{dir: dir, policies: make(map[string]*STSPolicy), failed: make(map[string]failure),
		fetching: make(map[string]chan struct{})}
	if dir == "" {
		return c, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tlspolicy: cache: %v", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("tlspolicy: cache: %v", err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		var cp cachedPolicy
		if json.Unmarshal(data, &cp) != nil || cp.Domain+".json" != e.Name() {
			continue // damaged or foreign: a fetch replaces it
		}
		c.policies[cp.Domain] = &STSPolicy{ID: cp.ID, Mode: cp.Mode, MX: cp.MX, MaxAge: time.Duration(cp.MaxAge) * time.Second, Fetched: cp.Fetched}
	}
	return c, nil
}

func (c *stsCache) get(domain string) *STSPolicy {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.policies[domain]
}

func (c *stsCache) put(domain string, p *STSPolicy) error {
	c.mu.Lock()
	c.policies[domain] = p
	delete(c.failed, domain)
	c.mu.Unlock()
	if c.dir == "" {
		return nil
	}
	data, err := json.Marshal(cachedPolicy{Domain: domain, ID: p.ID, Mode: p.Mode, MX: p.MX, MaxAge: int64(p.MaxAge / time.Second), Fetched: p.Fetched})
	if err != nil {
		return err
	}
	return writeFileSync(filepath.Join(c.dir, domain+".json"), data)
}

// recentFailure reports whether a fetch of domain's policy id failed
// within retryFetchAfter; fail records one.
func (c *stsCache) recentFailure(domain, id string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, ok := c.failed[domain]
	return ok && f.id == id && now.Sub(f.at) < retryFetchAfter
}

func (c *stsCache) fail(domain, id string, now time.Time) {
	c.mu.Lock()
	c.failed[domain] = failure{id: id, at: now}
	c.mu.Unlock()
}

// startFetch makes the caller the one fetching domain's policy and returns
// a function to call when done; when another caller is fetching already it
// returns nil and a channel closed when that fetch ends.
func (c *stsCache) startFetch(domain string) (done func(), wait <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.fetching[domain]; ok {
		return nil, ch
	}
	ch := make(chan struct{})
	c.fetching[domain] = ch
	return func() {
		c.mu.Lock()
		delete(c.fetching, domain)
		c.mu.Unlock()
		close(ch)
	}, nil
}

// writeFileSync writes data to path durably: a temporary file in the same
// directory, fsync, rename over path, fsync of the directory.
func writeFileSync(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// lookupSTS returns the MTA-STS policy that applies to domain now (RFC
// 8461 §3, §5.1), or nil:
//
//   - a valid TXT record whose id is the cached policy's, unexpired: the
//     cached policy;
//   - a valid TXT record with a new id, or no unexpired cached policy: a
//     fetch, cached on success; on failure the unexpired cached policy;
//   - no valid TXT record: the unexpired cached policy, if any.
//
// A policy that cannot be had and was never cached is no policy.
func (p *Policy) lookupSTS(ctx context.Context, domain string) (*STSPolicy, error) {
	now := p.now()
	cached := p.sts.get(domain)
	if cached != nil && !now.Before(cached.Expires()) {
		cached = nil
	}
	txts, _, err := p.opts.Resolver.LookupTXT(ctx, "_mta-sts."+domain)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		if !dns.IsNotFound(err) {
			p.log.Info("tlspolicy: MTA-STS record lookup failed", "domain", domain, "err", err)
		}
		return cached, nil
	}
	id, err := selectSTSRecord(txts)
	if err != nil {
		return cached, nil // no valid record (RFC 8461 §3.1)
	}
	if cached != nil && cached.ID == id {
		return cached, nil
	}
	if p.sts.recentFailure(domain, id, now) {
		return cached, nil
	}
	// One fetch per domain at a time: the others wait for its outcome.
	done, wait := p.sts.startFetch(domain)
	if done == nil {
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if pol := p.sts.get(domain); pol != nil && pol.ID == id && now.Before(pol.Expires()) {
			return pol, nil
		}
		return cached, nil
	}
	defer done()
	if pol := p.sts.get(domain); pol != nil && pol.ID == id && now.Before(pol.Expires()) {
		return pol, nil // fetched by another caller since we looked
	}
	pol, err := p.fetchAndParse(ctx, domain)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		p.log.Warn("tlspolicy: MTA-STS policy fetch failed", "domain", domain, "id", id, "err", err)
		p.sts.fail(domain, id, now)
		return cached, nil
	}
	pol.ID, pol.Fetched = id, now
	if err := p.sts.put(domain, pol); err != nil {
		p.log.Error("tlspolicy: caching MTA-STS policy", "domain", domain, "err", err)
	}
	return pol, nil
}

// Fetch gets and parses the MTA-STS policy file of domain now, without the
// TXT record, the cache or the failure memo: for checking what a domain
// serves (posthorn dns check). ID and Fetched are left empty.
func (p *Policy) Fetch(ctx context.Context, domain string) (*STSPolicy, error) {
	if p == nil || p.opts.Resolver == nil {
		return nil, errors.New("mta-sts: no resolver")
	}
	return p.fetchAndParse(ctx, lowerDomain(domain))
}

func (p *Policy) fetchAndParse(ctx context.Context, domain string) (*STSPolicy, error) {
	if strings.ContainsAny(domain, "/\\") || domain == "" {
		return nil, errors.New("mta-sts: bad domain")
	}
	text, err := p.fetchPolicy(ctx, domain)
	if err != nil {
		return nil, err
	}
	return ParseSTSPolicy(text)
}
