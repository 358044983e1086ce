package dns

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/idna"
)

// Config configures a Client.
type Config struct {
	// Servers are the recursive resolvers to ask, as "host:port", tried in
	// order on failure. Required; SystemServers reads /etc/resolv.conf.
	Servers []string
	// TrustAD says the servers validate DNSSEC (e.g. a local unbound), so
	// their AD bit (RFC 4035 §3.2.3) is believed and Result.Authentic may be
	// true. Enable it only for a resolver on loopback or a trusted network
	// path, as Postfix's smtp_dns_support_level=dnssec does; the bit is not
	// protected on the wire. Default false: nothing is authentic.
	TrustAD bool
	// Timeout bounds each attempt at one server (a UDP exchange, or a TCP
	// one after truncation). Default 5s. The caller's ctx bounds the whole.
	Timeout time.Duration
	// CacheSize is the number of answers kept (least recently used ones go
	// first). Default 4096; negative disables the cache.
	CacheSize int
	// MaxTTL caps how long an answer is cached, whatever its TTL. Default
	// one hour.
	MaxTTL time.Duration
	// Now is the cache's clock. Default time.Now.
	Now func() time.Time
	// Rand shuffles MX records of equal preference. Default: math/rand/v2's
	// top-level source. A *rand.Rand given here is used under a lock.
	Rand *rand.Rand
}

// Client is the production Resolver: it asks the configured recursive
// resolvers with github.com/miekg/dns and caches answers.
type Client struct {
	servers []string
	trustAD bool
	timeout time.Duration
	cache   *cache // nil when disabled
	now     func() time.Time

	randMu sync.Mutex
	rand   *rand.Rand

	flightMu sync.Mutex
	inflight map[cacheKey]*flight
}

var _ Resolver = (*Client)(nil)

// New returns a Client for cfg.
func New(cfg Config) (*Client, error) {
	if len(cfg.Servers) == 0 {
		return nil, errors.New("dns: no servers configured")
	}
	for _, s := range cfg.Servers {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return nil, fmt.Errorf("dns: server %q: want host:port: %v", s, err)
		}
	}
	c := &Client{
		servers:  append([]string(nil), cfg.Servers...),
		trustAD:  cfg.TrustAD,
		timeout:  cfg.Timeout,
		now:      cfg.Now,
		rand:     cfg.Rand,
		inflight: make(map[cacheKey]*flight),
	}
	if c.timeout <= 0 {
		c.timeout = 5 * time.Second
	}
	if c.now == nil {
		c.now = time.Now
	}
	if cfg.CacheSize >= 0 {
		size := cfg.CacheSize
		if size == 0 {
			size = 4096
		}
		maxTTL := cfg.MaxTTL
		if maxTTL <= 0 {
			maxTTL = time.Hour
		}
		c.cache = newCache(size, maxTTL)
	}
	return c, nil
}

// SystemServers returns the nameservers of a resolv.conf file (normally
// /etc/resolv.conf) as "host:port".
func SystemServers(path string) ([]string, error) {
	cc, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("dns: %v", err)
	}
	out := make([]string, len(cc.Servers))
	for i, s := range cc.Servers {
		out[i] = net.JoinHostPort(s, cc.Port)
	}
	return out, nil
}

// normalize turns name into a lower-case FQDN in A-labels (RFC 5890).
func normalize(name string) (string, error) {
	labels := strings.Split(strings.TrimSuffix(name, "."), ".")
	for i, l := range labels {
		// Convert only labels with non-ASCII bytes, so that ASCII labels
		// such as "_25" or "_domainkey" stay as they are.
		if strings.IndexFunc(l, func(r rune) bool { return r >= 0x80 }) >= 0 {
			a, err := idna.Lookup.ToASCII(l)
			if err != nil {
				return "", err
			}
			labels[i] = a
		}
	}
	n := strings.ToLower(strings.Join(labels, "."))
	if n == "" {
		return "", errors.New("empty name")
	}
	if _, ok := dns.IsDomainName(n); !ok {
		return "", errors.New("not a domain name")
	}
	return n + ".", nil
}

func trimDot(s string) string { return strings.ToLower(strings.TrimSuffix(s, ".")) }

// query asks for name/qtype, follows CNAMEs, and returns the records of
// qtype at the canonical name.
func (c *Client) query(ctx context.Context, name string, qtype uint16) ([]dns.RR, Result, error) {
	typ := dns.TypeToString[qtype]
	fqdn, err := normalize(name)
	if err != nil {
		return nil, Result{}, &Error{Name: name, Type: typ, Kind: ErrInvalidName, Err: err}
	}
	res := Result{Authentic: c.trustAD, Canonical: trimDot(fqdn)}
	cur := fqdn
	seen := map[string]bool{fqdn: true}
	for range 8 {
		msg, server, err := c.exchange(ctx, cur, qtype)
		if err != nil {
			return nil, Result{Canonical: trimDot(cur)}, &Error{Name: name, Type: typ, Kind: ErrTemporary, Server: server, Err: err}
		}
		res.Authentic = res.Authentic && msg.AuthenticatedData
		// Follow the chain the server gave (RFC 1034 §3.6.2).
		target := cur
		for qtype != dns.TypeCNAME {
			next := ""
			for _, rr := range msg.Answer {
				if cn, ok := rr.(*dns.CNAME); ok && strings.EqualFold(cn.Hdr.Name, target) {
					next = strings.ToLower(cn.Target)
				}
			}
			if next == "" {
				break
			}
			if seen[next] {
				res.Authentic = false
				return nil, res, &Error{Name: name, Type: typ, Kind: ErrTemporary, Server: server, Err: errors.New("CNAME loop")}
			}
			seen[next] = true
			target = next
		}
		res.Canonical = trimDot(target)
		var rrs []dns.RR
		for _, rr := range msg.Answer {
			if rr.Header().Rrtype == qtype && strings.EqualFold(rr.Header().Name, target) {
				rrs = append(rrs, rr)
			}
		}
		if len(rrs) > 0 {
			return rrs, res, nil
		}
		switch {
		case msg.Rcode == dns.RcodeNameError:
			return nil, res, &Error{Name: name, Type: typ, Kind: ErrNXDomain, Server: server}
		case msg.Rcode != dns.RcodeSuccess:
			return nil, res, &Error{Name: name, Type: typ, Kind: ErrTemporary, Server: server, Err: fmt.Errorf("rcode %s", dns.RcodeToString[msg.Rcode])}
		case target != cur && !hasSOA(msg):
			// The server stopped at a CNAME without answering for its
			// target: ask for the target ourselves.
			cur = target
			continue
		default:
			return nil, res, &Error{Name: name, Type: typ, Kind: ErrNoRecords, Server: server}
		}
	}
	return nil, Result{Canonical: trimDot(cur)}, &Error{Name: name, Type: typ, Kind: ErrTemporary, Err: errors.New("CNAME chain too long")}
}

func hasSOA(m *dns.Msg) bool {
	for _, rr := range m.Ns {
		if rr.Header().Rrtype == dns.TypeSOA {
			return true
		}
	}
	return false
}

// exchange returns a final answer (NOERROR or NXDOMAIN) for fqdn/qtype from
// the cache or the first server that gives one. Concurrent identical
// queries share one exchange.
func (c *Client) exchange(ctx context.Context, fqdn string, qtype uint16) (*dns.Msg, string, error) {
	key := cacheKey{fqdn, qtype}
	if c.cache != nil {
		if e, ok := c.cache.get(key, c.now()); ok {
			return e.msg, e.server, nil
		}
	}
	c.flightMu.Lock()
	if f, ok := c.inflight[key]; ok {
		c.flightMu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, "", ctx.Err()
		}
		if f.err == nil || !f.gaveUp || ctx.Err() != nil {
			return f.msg, f.server, f.err
		}
		// The first caller gave up (its context ended) and ours is
		// still alive: ask ourselves.
		return c.exchangeServers(ctx, key)
	}
	// A flight that ended since the cache was looked at above has put its
	// answer there (before leaving inflight): look again rather than ask
	// again.
	if c.cache != nil {
		if e, ok := c.cache.get(key, c.now()); ok {
			c.flightMu.Unlock()
			return e.msg, e.server, nil
		}
	}
	f := &flight{done: make(chan struct{})}
	c.inflight[key] = f
	c.flightMu.Unlock()

	f.msg, f.server, f.err = c.exchangeServers(ctx, key)
	f.gaveUp = ctx.Err() != nil
	c.flightMu.Lock()
	delete(c.inflight, key)
	c.flightMu.Unlock()
	close(f.done)
	return f.msg, f.server, f.err
}

// flight is an exchange in progress that later identical queries wait for.
type flight struct {
	done   chan struct{}
	msg    *dns.Msg
	server string
	err    error
	gaveUp bool // the first caller's context ended
}

// exchangeServers asks the servers in order and caches a final answer.
func (c *Client) exchangeServers(ctx context.Context, key cacheKey) (*dns.Msg, string, error) {
	fqdn, qtype := key.name, key.qtype
	var lastErr error
	var lastServer string
	for _, server := range c.servers {
		if err := ctx.Err(); err != nil {
			return nil, lastServer, err
		}
		msg, err := c.ask(ctx, server, fqdn, qtype)
		lastServer = server
		if err != nil {
			lastErr = err
			continue
		}
		if msg.Rcode != dns.RcodeSuccess && msg.Rcode != dns.RcodeNameError {
			lastErr = fmt.Errorf("rcode %s", dns.RcodeToString[msg.Rcode])
			continue
		}
		if c.cache != nil {
			if ttl, ok := cacheTTL(msg); ok {
				c.cache.put(key, entry{msg: msg, server: server}, c.now(), ttl)
			}
		}
		return msg, server, nil
	}
	return nil, lastServer, lastErr
}

// ask sends one query to server over UDP, and again over TCP when the
// answer is truncated (RFC 7766 §5). The query sets RD, EDNS0 with DO
// (RFC 3225) and AD (RFC 6840 §5.7) so a validating resolver reports
// authenticity.
func (c *Client) ask(ctx context.Context, server, fqdn string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(fqdn, qtype)
	m.AuthenticatedData = true
	m.SetEdns0(1232, true)
	var resp *dns.Msg
	for _, network := range []string{"udp", "tcp"} {
		r, err := c.exchangeOnce(ctx, network, server, m)
		if err != nil {
			return nil, err
		}
		resp = r
		if !r.Truncated {
			break
		}
	}
	if len(resp.Question) != 1 || !strings.EqualFold(resp.Question[0].Name, fqdn) || resp.Question[0].Qtype != qtype {
		return nil, errors.New("answer does not match the question")
	}
	if resp.Truncated {
		return nil, errors.New("truncated answer over TCP")
	}
	return resp, nil
}

// exchangeOnce does one exchange over network. miekg/dns applies only the
// context's deadline to reads, so cancellation is made to interrupt the
// connection too.
func (c *Client) exchangeOnce(ctx context.Context, network, server string, m *dns.Msg) (*dns.Msg, error) {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cl := &dns.Client{Net: network, UDPSize: 1232, Timeout: c.timeout}
	conn, err := cl.DialContext(actx, server)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(actx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	r, _, err := cl.ExchangeWithConnContext(actx, m, conn)
	if err != nil && actx.Err() != nil {
		return nil, fmt.Errorf("%w (%v)", actx.Err(), err)
	}
	return r, err
}

// shuffle permutes n elements with the configured source.
func (c *Client) shuffle(n int, swap func(i, j int)) {
	if c.rand == nil {
		rand.Shuffle(n, swap)
		return
	}
	c.randMu.Lock()
	defer c.randMu.Unlock()
	c.rand.Shuffle(n, swap)
}
