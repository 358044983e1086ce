package postgres

import (
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgconn"
)

// Node-local caches kept right by LISTEN/NOTIFY: the API key lookup
// (keyCache), the webhook subscriptions (endpointCache) and the
// directory lookups of the SMTP path (dirCache). Every change to
// api_keys, webhook_endpoints, domains, accounts, aliases or
// alias_targets, on any node or from the CLI, sends a notification at
// its commit (triggers in schema_queue.go and schema_directory.go), and the
// Store's listener connection (notify.go) moves the caches' generation
// on when one arrives. A cache entry is used only under the generation
// it was filled in. While the listener is down notifications are lost,
// so nothing is cached then, and its reconnection starts a new
// generation: whatever was cached before is dropped.

// Channels of the notifications this file handles, besides mail changes.
const (
	keysChannel      = "posthorn_keys"      // api_keys changed
	endpointsChannel = "posthorn_endpoints" // webhook_endpoints changed
	directoryChannel = "posthorn_directory" // domains, accounts, aliases changed
)

// listenChannels are every channel the listener connection LISTENs on.
var listenChannels = []string{notifyChannel, keysChannel, endpointsChannel, directoryChannel, outboxChannel, loginsChannel}

// caches is the Store's node-local state fed by the listener.
type caches struct {
	gen       generation
	keys      keyCache
	endpoints endpointCache
	directory dirCache
	failures  failureCache // login throttle records (logins.go)
	onOutbox  atomic.Pointer[func()]
	// listenerPID is the backend process of the listener connection (0:
	// down), for tests that cut it.
	listenerPID atomic.Uint32
}

// generation numbers the periods in which cached data is known to be
// current; live is whether notifications arrive at all.
type generation struct {
	mu   sync.Mutex
	n    uint64
	live bool
}

// current returns the generation and whether caching is allowed.
func (g *generation) current() (uint64, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n, g.live
}

// bump starts a new generation: everything cached so far is stale.
func (g *generation) bump() {
	g.mu.Lock()
	g.n++
	g.mu.Unlock()
}

// setLive records whether the listener is connected, starting a new
// generation either way.
func (g *generation) setLive(live bool) {
	g.mu.Lock()
	g.n++
	g.live = live
	g.mu.Unlock()
}

// notified handles a notification that is not about mail; it reports
// whether it was one.
func (c *caches) notified(n *pgconn.Notification) bool {
	switch n.Channel {
	case keysChannel, endpointsChannel, directoryChannel:
		c.gen.bump()
	case loginsChannel:
		c.failures.drop(n.Payload)
	case outboxChannel:
		if fn := c.onOutbox.Load(); fn != nil {
			(*fn)()
		}
	default:
		return false
	}
	return true
}

// listening records that the listener connection (backend pid) is up
// and LISTENing: notifications arrive from now on.
func (c *caches) listening(pid uint32) {
	c.listenerPID.Store(pid)
	c.failures.reset()
	c.gen.setLive(true)
}

// lost records that the listener connection is gone.
func (c *caches) lost() {
	c.listenerPID.Store(0)
	c.gen.setLive(false)
	c.failures.reset()
}

// OnWebhookDeliveries sets fn (nil: none) to be called whenever a commit
// on any node wrote webhook deliveries (a NOTIFY on outboxChannel,
// received by this Store's listener): the daemon wakes its webhook worker
// with it instead of waiting for the next poll. fn must not block.
func (s *Store) OnWebhookDeliveries(fn func()) {
	if fn == nil {
		s.caches.onOutbox.Store(nil)
		return
	}
	s.caches.onOutbox.Store(&fn)
}
