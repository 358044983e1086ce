package compose

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/posthorn/posthorn/internal/smtp"
	"github.com/posthorn/posthorn/internal/store"
)

// Inbound routes: mail to an address or pattern of ours is parsed (Parse)
// and POSTed as JSON to an application's URL. A route is a webhook endpoint
// with a Pattern (store.WebhookEndpoint); the MX matches recipients with a
// Router and writes one "inbound" event per routed recipient, addressed to
// the route's endpoint, in the commit that accepts the message; package
// webhook then signs, POSTs and retries it like every other event.
//
// Pattern language (case-insensitive, one domain per pattern):
//
//	user@example.org      that address only
//	reply+*@example.org   local parts starting with "reply+" (a '*' may
//	                      only end the local part)
//	*@example.org         every address of the domain
//
// The most specific route wins: an exact address, then the longest prefix,
// then the domain's "*".

// Pattern is a parsed route pattern.
type Pattern struct {
	// Prefix is the local part, or its start when Wildcard.
	Prefix   string
	Wildcard bool
	Domain   string // lower-case Unicode
}

// ParsePattern parses and normalises a route pattern.
func ParsePattern(s string) (Pattern, error) {
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return Pattern{}, fmt.Errorf("route pattern %q: want local@domain, prefix*@domain or *@domain", s)
	}
	local, domain := s[:at], s[at+1:]
	d, err := smtp.ParseDomain(domain)
	if err != nil {
		return Pattern{}, fmt.Errorf("route pattern %q: %v", s, err)
	}
	p := Pattern{Domain: d}
	if strings.HasSuffix(local, "*") {
		p.Wildcard = true
		local = local[:len(local)-1]
	}
	if strings.ContainsAny(local, "*\"") {
		return Pattern{}, fmt.Errorf("route pattern %q: '*' may only end the local part, and quoted local parts are not supported", s)
	}
	if local != "" {
		// The prefix must itself be a valid start of a local part: check
		// it with a stand-in ending ("x") so "reply+" passes.
		probe := local
		if p.Wildcard {
			probe += "x"
		}
		a, err := smtp.ParseAddress(probe + "@" + d)
		if err != nil {
			return Pattern{}, fmt.Errorf("route pattern %q: bad local part", s)
		}
		local = strings.ToLower(a.Local)
		if p.Wildcard {
			local = local[:len(local)-1]
		}
	} else if !p.Wildcard {
		return Pattern{}, fmt.Errorf("route pattern %q: empty local part", s)
	}
	p.Prefix = local
	return p, nil
}

func (p Pattern) String() string {
	s := p.Prefix
	if p.Wildcard {
		s += "*"
	}
	return s + "@" + p.Domain
}

// Match reports whether the canonical address local@domain (lower case)
// matches, and how specifically: exact matches score highest, then longer
// prefixes. Score 0 is no match.
func (p Pattern) Match(local, domain string) int {
	if domain != p.Domain {
		return 0
	}
	if !p.Wildcard {
		if local == p.Prefix {
			return 1 << 20
		}
		return 0
	}
	if strings.HasPrefix(local, p.Prefix) {
		return 1 + len(p.Prefix)
	}
	return 0
}

// Router finds the inbound route of a recipient. It keeps the enabled
// routes in memory, reloaded from the store at most every Refresh (routes
// added with the CLI beside a running server take effect within it).
type Router struct {
	events  store.Events
	refresh time.Duration
	now     func() time.Time

	mu     sync.Mutex
	loaded time.Time
	routes []route
}

type route struct {
	pat Pattern
	ep  store.WebhookEndpoint
}

// DefaultRefresh is how stale a Router's routes may be.
const DefaultRefresh = 2 * time.Second

// NewRouter returns a Router over the store's webhook endpoints.
func NewRouter(events store.Events) *Router {
	return &Router{events: events, refresh: DefaultRefresh, now: time.Now}
}

// Match returns the route for the canonical (lower-case) address, if any.
// Disabled routes do not match. An error means the store failed.
func (r *Router) Match(ctx context.Context, addr string) (store.WebhookEndpoint, bool, error) {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return store.WebhookEndpoint{}, false, nil
	}
	routes, err := r.current(ctx)
	if err != nil {
		return store.WebhookEndpoint{}, false, err
	}
	local, domain := addr[:at], addr[at+1:]
	best, bestScore := -1, 0
	for i, rt := range routes {
		if s := rt.pat.Match(local, domain); s > bestScore {
			best, bestScore = i, s
		}
	}
	if best < 0 {
		return store.WebhookEndpoint{}, false, nil
	}
	return routes[best].ep, true, nil
}

// Invalidate makes the next Match reload the routes.
func (r *Router) Invalidate() {
	r.mu.Lock()
	r.loaded = time.Time{}
	r.mu.Unlock()
}

func (r *Router) current(ctx context.Context) ([]route, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.loaded.IsZero() && r.now().Sub(r.loaded) < r.refresh {
		return r.routes, nil
	}
	eps, err := r.events.WebhookEndpoints(ctx, "")
	if err != nil {
		return nil, err
	}
	routes := r.routes[:0:0]
	for _, ep := range eps {
		if ep.Pattern == "" || !ep.Enabled {
			continue
		}
		p, err := ParsePattern(ep.Pattern)
		if err != nil {
			continue // stored before validation got stricter: never matches
		}
		routes = append(routes, route{pat: p, ep: ep})
	}
	r.routes, r.loaded = routes, r.now()
	return routes, nil
}

// RoutePayload is the Data of an inbound route's event: what the
// application receives under "data".
type RoutePayload struct {
	Route    string   `json:"route"` // the matching pattern
	Envelope Envelope `json:"envelope"`
	Message  *Inbound `json:"message"`
}

// Envelope is the SMTP envelope of a received message, for one recipient.
type Envelope struct {
	MailFrom string `json:"mail_from"` // "" for the null sender
	RcptTo   string `json:"rcpt_to"`
	RemoteIP string `json:"remote_ip,omitempty"`
	Helo     string `json:"helo,omitempty"`
}

// RouteData builds the JSON of a RoutePayload around an already-encoded
// message (Parse and encode once per message, not per recipient).
func RouteData(pattern string, env Envelope, message json.RawMessage) (json.RawMessage, error) {
	return json.Marshal(struct {
		Route    string          `json:"route"`
		Envelope Envelope        `json:"envelope"`
		Message  json.RawMessage `json:"message"`
	}{pattern, env, message})
}
