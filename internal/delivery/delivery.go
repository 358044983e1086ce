package delivery

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"

	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/smtp"
	"github.com/posthorn/posthorn/internal/smtpclient"
	"github.com/posthorn/posthorn/internal/tlspolicy"
)

// Route sends a destination's mail to a fixed next hop instead of its MX
// hosts.
type Route struct {
	// Host is "host:port" or "host" (port 25); host may be an IP address.
	Host string
	// Username and Password, when set, log in with AUTH PLAIN (only over
	// verified TLS).
	Username, Password string
	// RequireTLS refuses plaintext; it is implied by Username.
	RequireTLS bool
	// TLSConfig verifies the next hop's certificate (roots, name); nil
	// with RequireTLS means the system roots and the host name.
	TLSConfig *tls.Config
}

// Options configure a Deliverer.
type Options struct {
	// Hostname is our name in EHLO; an MX host of that name is skipped.
	Hostname string
	Resolver dns.Resolver
	// Dialer dials next hops (source address, connect timeout). Nil: a
	// net.Dialer with a 30 s timeout.
	Dialer *net.Dialer
	// Port dialled at MX hosts; 0 means 25.
	Port int
	// Routes by destination domain (lower case); "*" matches every
	// domain without its own route (a smarthost).
	Routes map[string]Route
	// TLSPolicy finds MTA-STS and DANE requirements; nil means
	// opportunistic TLS everywhere (REQUIRETLS still enforced).
	TLSPolicy *tlspolicy.Policy
	// MaxPerDestination bounds simultaneous deliveries per destination;
	// 0 means 20.
	MaxPerDestination int
	// IdleTimeout is how long a connection waits for the next message
	// (0: 5 s); MaxReuse how many messages one connection carries (0: 100).
	IdleTimeout time.Duration
	MaxReuse    int
	// CommandTimeout and DataTimeout bound each reply (0: 5 and 10 min).
	CommandTimeout, DataTimeout time.Duration
	Logger                      *slog.Logger
}

// Outcome is the result of one delivery attempt for one recipient.
type Outcome struct {
	// Reply is the next hop's answer, or one made up here for failures
	// before any answer (DNS, connection).
	Reply *smtp.Reply
	// Host is the next hop that answered ("" when none did).
	Host string
}

// Deliverer delivers messages; it is safe for concurrent use.
type Deliverer struct {
	opts Options
	log  *slog.Logger

	mu    sync.Mutex
	dests map[string]*destination
	quit  chan struct{}
	done  chan struct{}
}

// New returns a Deliverer; Close releases its idle connections.
func New(opts Options) *Deliverer {
	if opts.Port == 0 {
		opts.Port = 25
	}
	if opts.MaxPerDestination <= 0 {
		opts.MaxPerDestination = 20
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 5 * time.Second
	}
	if opts.MaxReuse <= 0 {
		opts.MaxReuse = 100
	}
	if opts.Dialer == nil {
		opts.Dialer = &net.Dialer{Timeout: 30 * time.Second}
	}
	d := &Deliverer{opts: opts, log: opts.Logger, dests: map[string]*destination{}, quit: make(chan struct{}), done: make(chan struct{})}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	go d.reaper()
	return d
}

// Close closes idle connections and stops reusing connections.
func (d *Deliverer) Close() {
	select {
	case <-d.quit:
		return
	default:
	}
	close(d.quit)
	<-d.done
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, dest := range d.dests {
		dest.closeIdle(time.Time{})
	}
}

// Made-up replies (RFC 3463 codes).
var (
	replyNullMX   = &smtp.Reply{Code: 556, Enhanced: smtp.EnhancedCode{5, 1, 10}, Text: "Recipient domain accepts no mail (null MX)"}
	replyNoDomain = &smtp.Reply{Code: 550, Enhanced: smtp.EnhancedCode{5, 1, 2}, Text: "Recipient domain not found in DNS"}
	replyDNSTemp  = &smtp.Reply{Code: 451, Enhanced: smtp.EnhancedCode{4, 4, 3}, Text: "DNS lookup of the recipient domain failed, will retry"}
	replyLoop     = &smtp.Reply{Code: 554, Enhanced: smtp.EnhancedCode{5, 4, 6}, Text: "Mail for the recipient domain loops back to this server"}
	replyPolicy   = &smtp.Reply{Code: 451, Enhanced: smtp.EnhancedCode{4, 7, 5}, Text: "TLS policy of the recipient domain not met, will retry"}
)

// Deliver sends body from env.From to env.To, all recipients of domain,
// and returns one outcome per recipient, in order. It never fails as a
// whole: problems become temporary (4xx) or permanent (5xx) outcomes.
func (d *Deliverer) Deliver(ctx context.Context, domain string, env smtpclient.Envelope, body []byte) []Outcome {
	domain = strings.ToLower(domain)
	route, routed := d.opts.Routes[domain]
	if !routed {
		route, routed = d.opts.Routes["*"]
	}
	key := domain
	if routed {
		key = "route " + route.Host
	}
	if env.RequireTLS {
		// Connections for REQUIRETLS mail were checked for it: keep them
		// apart (RFC 8689 §4.2.1).
		key += " requiretls"
	}
	msg := tlspolicy.Message{RequireTLS: env.RequireTLS, TLSOptional: !env.RequireTLS && tlspolicy.TLSOptional(body)}
	if msg.TLSOptional {
		// "TLS-Required: No" (RFC 8689 §5): no MTA-STS or DANE, so its
		// connections must not carry mail that needs them.
		key += " tls-optional"
	}
	dest := d.destination(key)
	select {
	case dest.sem <- struct{}{}:
	case <-ctx.Done():
		return all(len(env.To), tempReply("Delivery interrupted: %v", ctx.Err()), "")
	}
	defer func() { <-dest.sem }()

	// A connection left open by an earlier message.
	for c := dest.takeIdle(); c != nil; c = dest.takeIdle() {
		replies, err := c.conn.Send(ctx, env, body)
		if err == nil {
			d.release(dest, c)
			return outcomes(replies, c.host)
		}
		c.conn.Abort()
		var se *smtpclient.Error
		if replies == nil && errors.As(err, &se) && se.Stage == "mail" && se.Reply == nil {
			continue // it died while idle: nothing was taken, dial afresh
		}
		return d.afterError(env, replies, err, c.host)
	}

	var req tlspolicy.Requirement
	if !routed && !msg.TLSOptional {
		r, err := d.opts.TLSPolicy.Lookup(ctx, domain)
		if err != nil {
			d.log.Warn("delivery: TLS policy lookup failed", "domain", domain, "err", err)
			return all(len(env.To), replyPolicy, "")
		}
		req = r
	}
	hops, fail := d.nextHops(ctx, domain, route, routed, req)
	if fail != nil {
		return all(len(env.To), fail, "")
	}
	var lastErr error
	for _, h := range hops {
		c, err := d.dial(ctx, h, route, routed, req, msg)
		if err != nil {
			d.log.Info("delivery: next hop failed", "domain", domain, "host", h.name, "addr", h.addr, "err", err)
			lastErr = fmt.Errorf("%s[%s]: %w", h.name, h.addr, err)
			continue
		}
		pc := &pooled{conn: c, host: h.name, since: time.Now()}
		replies, err := c.Send(ctx, env, body)
		if err != nil {
			c.Abort()
			return d.afterError(env, replies, err, h.name)
		}
		d.release(dest, pc)
		return outcomes(replies, h.name)
	}
	if lastErr == nil {
		lastErr = errors.New("no next hop")
	}
	return all(len(env.To), connReply(lastErr), "")
}

// afterError turns a connection failure during Send into outcomes.
func (d *Deliverer) afterError(env smtpclient.Envelope, replies []*smtp.Reply, err error, host string) []Outcome {
	if replies != nil {
		return outcomes(replies, host)
	}
	return all(len(env.To), connReply(fmt.Errorf("%s: %w", host, err)), host)
}

// connReply describes a connection failure as a temporary reply; a 421
// from the server is kept as it is.
func connReply(err error) *smtp.Reply {
	var se *smtpclient.Error
	if errors.As(err, &se) && se.Reply != nil && se.Reply.Code == 421 {
		return se.Reply
	}
	var pe *tlspolicy.Error
	if errors.As(err, &pe) {
		r := tempReply("%v", err)
		r.Enhanced = pe.Code
		return r
	}
	if errors.Is(err, smtpclient.ErrTLSRequired) {
		return tempReply("TLS required but not available: %v", err)
	}
	return tempReply("Connection failed: %v", err)
}

func tempReply(format string, args ...any) *smtp.Reply {
	text := strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, fmt.Sprintf(format, args...))
	return &smtp.Reply{Code: 451, Enhanced: smtp.EnhancedCode{4, 4, 1}, Text: text}
}

func all(n int, r *smtp.Reply, host string) []Outcome {
	out := make([]Outcome, n)
	for i := range out {
		out[i] = Outcome{Reply: r, Host: host}
	}
	return out
}

func outcomes(replies []*smtp.Reply, host string) []Outcome {
	out := make([]Outcome, len(replies))
	for i, r := range replies {
		out[i] = Outcome{Reply: r, Host: host}
	}
	return out
}

// hop is one address to try.
type hop struct {
	name string   // host name (for SNI and logs)
	addr string   // ip:port
	mx   dns.Host // the MX record it came from
}

// nextHops lists the addresses to try, or the reply that ends the attempt.
func (d *Deliverer) nextHops(ctx context.Context, domain string, route Route, routed bool, req tlspolicy.Requirement) ([]hop, *smtp.Reply) {
	if routed {
		host, port, err := net.SplitHostPort(route.Host)
		if err != nil {
			host, port = route.Host, "25"
		}
		if ip, err := netip.ParseAddr(host); err == nil {
			return []hop{{name: host, addr: net.JoinHostPort(ip.String(), port)}}, nil
		}
		p, _ := strconv.Atoi(port)
		return d.addresses(ctx, []dns.Host{{Name: host}}, p)
	}
	hosts, err := dns.MailHosts(ctx, d.opts.Resolver, domain)
	switch {
	case errors.Is(err, dns.ErrNullMX):
		return nil, replyNullMX
	case err != nil && dns.IsNotFound(err):
		return nil, replyNoDomain
	case err != nil:
		d.log.Info("delivery: MX lookup failed", "domain", domain, "err", err)
		return nil, replyDNSTemp
	}
	var kept []dns.Host
	for _, h := range hosts {
		if strings.EqualFold(h.Name, d.opts.Hostname) {
			// RFC 5321 §5.1: drop ourselves and every less preferred host.
			break
		}
		if !req.AllowMX(h.Name) {
			continue // MTA-STS enforce (RFC 8461 §4.1)
		}
		kept = append(kept, h)
	}
	if len(kept) == 0 {
		if len(hosts) > 0 && strings.EqualFold(hosts[0].Name, d.opts.Hostname) {
			return nil, replyLoop
		}
		return nil, replyPolicy
	}
	return d.addresses(ctx, kept, d.opts.Port)
}

// addresses resolves hosts to ip:port hops, IPv6 first.
func (d *Deliverer) addresses(ctx context.Context, hosts []dns.Host, port int) ([]hop, *smtp.Reply) {
	var hops []hop
	var lastErr error
	for _, h := range hosts {
		ips, _, err := d.opts.Resolver.LookupIP(ctx, "ip", h.Name)
		if err != nil {
			lastErr = err
			continue
		}
		for _, ip := range ips {
			hops = append(hops, hop{name: h.Name, addr: net.JoinHostPort(ip.String(), strconv.Itoa(port)), mx: h})
		}
	}
	if len(hops) == 0 {
		if lastErr != nil && dns.IsTemporary(lastErr) {
			return nil, replyDNSTemp
		}
		return nil, tempReply("No address for the mail hosts: %v", lastErr)
	}
	return hops, nil
}

// dial connects to one hop with the TLS the route or the policy asks for.
func (d *Deliverer) dial(ctx context.Context, h hop, route Route, routed bool, req tlspolicy.Requirement, msg tlspolicy.Message) (*smtpclient.Conn, error) {
	requireTLS := msg.RequireTLS
	opts := smtpclient.Options{
		Hostname:       d.opts.Hostname,
		Dialer:         d.opts.Dialer,
		CommandTimeout: d.opts.CommandTimeout,
		DataTimeout:    d.opts.DataTimeout,
	}
	if !routed {
		return d.dialMX(ctx, h, req, msg, opts)
	}
	if route.RequireTLS || route.Username != "" || requireTLS {
		opts.TLS = smtpclient.TLSRequired
		opts.TLSConfig = route.TLSConfig
		if opts.TLSConfig == nil {
			opts.TLSConfig = &tls.Config{ServerName: h.name}
		}
	}
	if route.Username != "" {
		opts.Auth = sasl.NewPlainClient("", route.Username, route.Password)
	}
	c, err := smtpclient.Dial(ctx, h.addr, h.name, opts)
	if err != nil && opts.TLS == smtpclient.TLSOpportunistic && errors.Is(err, smtpclient.ErrTLSRequired) {
		opts.TLS = smtpclient.TLSNone
		c, err = smtpclient.Dial(ctx, h.addr, h.name, opts)
	}
	if err == nil && requireTLS {
		if _, ok := c.Extension("REQUIRETLS"); !ok {
			c.Close()
			return nil, errors.New("next hop does not support REQUIRETLS (RFC 8689)")
		}
	}
	return c, err
}

// dialMX connects to an MX host under the destination's TLS policy
// (MTA-STS, DANE, REQUIRETLS; package tlspolicy). Where the policy allows
// plaintext, a failed handshake is retried without TLS, as Postfix does
// at security level "may" (RFC 7435).
func (d *Deliverer) dialMX(ctx context.Context, h hop, req tlspolicy.Requirement, msg tlspolicy.Message, opts smtpclient.Options) (*smtpclient.Conn, error) {
	hp, err := d.opts.TLSPolicy.Host(ctx, req, h.mx, msg)
	if err != nil {
		return nil, err
	}
	opts.TLSConfig = hp.TLSConfig(nil)
	if hp.Mandatory() {
		opts.TLS = smtpclient.TLSRequired
	}
	c, err := smtpclient.Dial(ctx, h.addr, h.name, opts)
	switch {
	case err != nil && hp.Mandatory() && errors.Is(err, smtpclient.ErrTLSRequired):
		// Say which policy demanded TLS, with its status code (X.7.5,
		// X.7.30), in the log and an eventual DSN.
		if perr := hp.Plaintext(); perr != nil {
			return nil, fmt.Errorf("%w (%v)", perr, err)
		}
		return nil, err
	case err != nil && (hp.Mandatory() || !errors.Is(err, smtpclient.ErrTLSRequired)):
		return nil, err
	case err != nil || c.TLS() == nil:
		// No TLS to be had: may the message go in plaintext?
		if perr := hp.Plaintext(); perr != nil {
			if c != nil {
				c.Close()
			}
			return nil, perr
		}
		if c != nil {
			return c, nil
		}
		opts.TLS = smtpclient.TLSNone
		return smtpclient.Dial(ctx, h.addr, h.name, opts)
	}
	_, advertised := c.Extension("REQUIRETLS")
	if err := hp.CheckREQUIRETLS(advertised); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}
