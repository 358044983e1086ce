package dns

import (
	"container/list"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// cache keeps final answers (NOERROR and NXDOMAIN, never failures) until
// their TTL runs out: the smallest TTL of the answer records, or for a
// negative answer the SOA's TTL capped by its MINIMUM field (RFC 2308 §5;
// negative answers without an SOA are not cached). Lifetimes are capped at
// maxTTL; a TTL of 0 is not cached. At most size entries are kept; the
// least recently used goes first.
type cache struct {
	mu     sync.Mutex
	size   int
	maxTTL time.Duration
	lru    *list.List // of *cacheItem, front = most recent
	items  map[cacheKey]*list.Element
}

type cacheKey struct {
	name  string // lower-case FQDN
	qtype uint16
}

type entry struct {
	msg    *dns.Msg // shared: read only
	server string
}

type cacheItem struct {
	key     cacheKey
	e       entry
	expires time.Time
}

func newCache(size int, maxTTL time.Duration) *cache {
	return &cache{size: size, maxTTL: maxTTL, lru: list.New(), items: make(map[cacheKey]*list.Element)}
}

func (c *cache) get(k cacheKey, now time.Time) (entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		return entry{}, false
	}
	it := el.Value.(*cacheItem)
	if !now.Before(it.expires) {
		c.lru.Remove(el)
		delete(c.items, k)
		return entry{}, false
	}
	c.lru.MoveToFront(el)
	return it.e, true
}

func (c *cache) put(k cacheKey, e entry, now time.Time, ttl time.Duration) {
	ttl = min(ttl, c.maxTTL)
	if ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[k]; ok {
		it := el.Value.(*cacheItem)
		it.e, it.expires = e, now.Add(ttl)
		c.lru.MoveToFront(el)
		return
	}
	c.items[k] = c.lru.PushFront(&cacheItem{key: k, e: e, expires: now.Add(ttl)})
	for c.lru.Len() > c.size {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.items, old.Value.(*cacheItem).key)
	}
}

func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// cacheTTL returns how long msg may be cached.
func cacheTTL(msg *dns.Msg) (time.Duration, bool) {
	if len(msg.Answer) > 0 && msg.Rcode == dns.RcodeSuccess {
		ttl := msg.Answer[0].Header().Ttl
		for _, rr := range msg.Answer[1:] {
			ttl = min(ttl, rr.Header().Ttl)
		}
		return time.Duration(ttl) * time.Second, true
	}
	for _, rr := range msg.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return time.Duration(min(soa.Hdr.Ttl, soa.Minttl)) * time.Second, true
		}
	}
	return 0, false
}
