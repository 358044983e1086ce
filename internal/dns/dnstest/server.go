// Package dnstest runs a real DNS server on 127.0.0.1 for tests, serving an
// in-memory set of zones over UDP and TCP on one port.
//
// It answers like a recursive resolver would (RA set, CNAME chains chased
// across zones, NXDOMAIN versus NODATA with the zone's SOA in the authority
// section, RFC 2308), so the same server works for posthorn's own resolver
// (internal/dns, which uses github.com/miekg/dns), for the standard library's
// net.Resolver (see (*Server).Resolver), and through it for the SPF and DKIM
// libraries.
//
// Per zone it can simulate a DNSSEC-validating resolver (the AD bit,
// RFC 4035 §3.2.3, set on answers when the query carried DO or AD), inject
// SERVFAIL per name, and delay answers. UDP answers larger than the client's
// EDNS0 buffer (512 bytes without EDNS0, RFC 1035 §4.2.1) are truncated with
// TC set, so clients must retry over TCP (RFC 7766).
package dnstest

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Zone is one zone of the test DNS.
type Zone struct {
	// Origin is the zone's apex, e.g. "example.org" (a trailing dot is optional).
	Origin string
	// Records is zone-file text (RFC 1035 §5) with $ORIGIN set to Origin and
	// a default TTL of 300 seconds, e.g.
	//
	//	@     MX   10 mx
	//	mx    A    127.0.0.1
	//	s1._domainkey TXT "v=DKIM1; k=rsa; " "p=MIIB..."
	//
	// Names present with no record of the asked type answer NODATA; absent
	// names answer NXDOMAIN. Without an SOA record one is made up with a
	// negative TTL (RFC 2308 §5) of 60 seconds.
	Records string
	// AD marks answers from this zone as DNSSEC-authenticated, as a
	// validating resolver would. An answer that crosses zones (CNAME) is
	// authentic only when every zone crossed is.
	AD bool
	// ServFail lists names (relative to Origin, or absolute with a trailing
	// dot; "@" for the apex) that answer SERVFAIL for every type.
	ServFail []string
	// Delay holds every answer from this zone back for this long (or until
	// the server stops), to exercise client timeouts.
	Delay time.Duration
	// Hold, when not nil, holds every answer from this zone back until it
	// is closed (or the server stops), so a test can act while queries
	// are in flight.
	Hold <-chan struct{}
	// NoChase makes an answer stop at a CNAME of this zone, without the
	// target's records or an SOA, the way an authoritative server answers
	// for an alias pointing out of its zone; the client must ask for the
	// target itself.
	NoChase bool
}

// Server is a running test DNS server. It stops when the test ends.
type Server struct {
	addr string
	udp  *dns.Server
	tcp  *dns.Server
	done chan struct{}

	mu      sync.Mutex
	zones   map[string]*zone // by lower-case FQDN origin
	queries map[string]int   // "name TYPE" → count
}

// zone is a parsed Zone.
type zone struct {
	origin   string
	names    map[string][]dns.RR // lower-case FQDN → records
	soa      dns.RR
	ad       bool
	servfail map[string]bool
	delay    time.Duration
	hold     <-chan struct{}
	noChase  bool
}

// Start starts a server on 127.0.0.1 (UDP and TCP, the same free port) that
// serves zones. It fails the test on a bad zone and stops at Cleanup.
func Start(t testing.TB, zones ...Zone) *Server {
	t.Helper()
	s := &Server{
		done:    make(chan struct{}),
		zones:   make(map[string]*zone),
		queries: make(map[string]int),
	}
	for _, z := range zones {
		s.SetZone(t, z)
	}
	pc, ln, err := listenSamePort()
	if err != nil {
		t.Fatalf("dnstest: listen: %v", err)
	}
	s.addr = pc.LocalAddr().String()
	h := dns.HandlerFunc(s.serve)
	s.udp = &dns.Server{PacketConn: pc, Handler: h}
	s.tcp = &dns.Server{Listener: ln, Handler: h}
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { _ = srv.ActivateAndServe() }()
		<-started
	}
	t.Cleanup(func() {
		close(s.done)
		_ = s.udp.Shutdown()
		_ = s.tcp.Shutdown()
	})
	return s
}

// listenSamePort opens UDP and TCP listeners on one free loopback port.
func listenSamePort() (net.PacketConn, net.Listener, error) {
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, err
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		lastErr = err
	}
	return nil, nil, lastErr
}

// Addr returns the server's address, "127.0.0.1:port", for UDP and TCP.
func (s *Server) Addr() string { return s.addr }

// Resolver returns a standard library resolver whose every query goes to
// this server (over UDP, and TCP when truncated), for libraries that take a
// *net.Resolver. Note that net.Resolver still consults /etc/hosts first for
// address lookups.
func (s *Server) Resolver() *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, s.addr)
		},
	}
}

// SetZone adds z, or replaces the zone with the same origin, while the
// server runs. It fails the test when the records do not parse.
func (s *Server) SetZone(t testing.TB, z Zone) {
	t.Helper()
	pz, err := parseZone(z)
	if err != nil {
		t.Fatalf("dnstest: zone %s: %v", z.Origin, err)
	}
	s.mu.Lock()
	s.zones[pz.origin] = pz
	s.mu.Unlock()
}

// Queries returns how many queries for name (any case, trailing dot
// optional) and type (e.g. "MX") the server has received.
func (s *Server) Queries(name, qtype string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[queryKey(name, qtype)]
}

func queryKey(name, qtype string) string {
	return strings.ToLower(dns.Fqdn(name)) + " " + strings.ToUpper(qtype)
}

func parseZone(z Zone) (*zone, error) {
	origin := strings.ToLower(dns.Fqdn(z.Origin))
	if _, ok := dns.IsDomainName(origin); !ok {
		return nil, fmt.Errorf("bad origin %q", z.Origin)
	}
	pz := &zone{
		origin:   origin,
		names:    make(map[string][]dns.RR),
		ad:       z.AD,
		servfail: make(map[string]bool),
		delay:    z.Delay,
		hold:     z.Hold,
		noChase:  z.NoChase,
	}
	zp := dns.NewZoneParser(strings.NewReader(z.Records), origin, "")
	zp.SetDefaultTTL(300)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		h := rr.Header()
		h.Name = strings.ToLower(h.Name)
		if !dns.IsSubDomain(origin, h.Name) {
			return nil, fmt.Errorf("record %s outside the zone", h.Name)
		}
		if h.Rrtype == dns.TypeSOA {
			pz.soa = rr
			continue
		}
		pz.names[h.Name] = append(pz.names[h.Name], rr)
	}
	if err := zp.Err(); err != nil {
		return nil, err
	}
	if pz.soa == nil {
		soa, err := dns.NewRR(fmt.Sprintf("%s 300 IN SOA ns.%s hostmaster.%s 1 3600 600 86400 60", origin, origin, origin))
		if err != nil {
			return nil, err
		}
		pz.soa = soa
	}
	for _, n := range z.ServFail {
		pz.servfail[absName(n, origin)] = true
	}
	return pz, nil
}

// absName makes a zone-relative name absolute.
func absName(n, origin string) string {
	n = strings.ToLower(n)
	switch {
	case n == "@":
		return origin
	case strings.HasSuffix(n, "."):
		return n
	default:
		return n + "." + origin
	}
}

// findZone returns the zone with the longest origin that contains name.
func (s *Server) findZone(name string) *zone {
	var best *zone
	for origin, z := range s.zones {
		if dns.IsSubDomain(origin, name) && (best == nil || len(origin) > len(best.origin)) {
			best = z
		}
	}
	return best
}

// exists reports whether name has records or is an empty non-terminal.
func (z *zone) exists(name string) bool {
	if len(z.names[name]) > 0 || name == z.origin {
		return true
	}
	for n := range z.names {
		if strings.HasSuffix(n, "."+name) {
			return true
		}
	}
	return false
}

func (s *Server) serve(w dns.ResponseWriter, r *dns.Msg) {
	defer w.Close()
	m := new(dns.Msg)
	if len(r.Question) != 1 {
		m.SetRcode(r, dns.RcodeFormatError)
		_ = w.WriteMsg(m)
		return
	}
	m.SetReply(r)
	m.RecursionAvailable = true
	q := r.Question[0]
	name := strings.ToLower(q.Name)

	s.mu.Lock()
	s.queries[queryKey(name, dns.TypeToString[q.Qtype])]++
	var delay time.Duration
	var hold <-chan struct{}
	if z := s.findZone(name); z != nil {
		delay, hold = z.delay, z.hold
	}
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-s.done:
			return
		}
	}
	if hold != nil {
		select {
		case <-hold:
		case <-s.done:
			return
		}
	}

	opt := r.IsEdns0()
	wantAD := r.AuthenticatedData || (opt != nil && opt.Do())
	s.mu.Lock()
	rcode, ad := s.answer(m, name, q.Qtype)
	s.mu.Unlock()
	m.Rcode = rcode
	m.AuthenticatedData = ad && wantAD && rcode != dns.RcodeServerFailure

	if opt != nil {
		m.SetEdns0(opt.UDPSize(), opt.Do())
	}
	if _, udp := w.LocalAddr().(*net.UDPAddr); udp {
		size := dns.MinMsgSize
		if opt != nil {
			size = max(int(opt.UDPSize()), dns.MinMsgSize)
		}
		m.Truncate(size)
	}
	_ = w.WriteMsg(m)
}

// answer fills m for name/qtype, chasing CNAMEs, and returns the rcode and
// whether every zone consulted is authentic. The caller holds s.mu.
func (s *Server) answer(m *dns.Msg, name string, qtype uint16) (rcode int, ad bool) {
	ad = true
	seen := make(map[string]bool)
	for range 10 {
		z := s.findZone(name)
		if z == nil {
			return dns.RcodeNameError, false
		}
		ad = ad && z.ad
		if z.servfail[name] {
			return dns.RcodeServerFailure, false
		}
		rrs := z.names[name]
		var cname dns.RR
		found := false
		for _, rr := range rrs {
			t := rr.Header().Rrtype
			if t == qtype || qtype == dns.TypeANY {
				m.Answer = append(m.Answer, dns.Copy(rr))
				found = true
			} else if t == dns.TypeCNAME {
				cname = rr
			}
		}
		if found {
			return dns.RcodeSuccess, ad
		}
		if cname != nil {
			m.Answer = append(m.Answer, dns.Copy(cname))
			if z.noChase {
				return dns.RcodeSuccess, ad
			}
			seen[name] = true
			name = strings.ToLower(cname.(*dns.CNAME).Target)
			if seen[name] {
				return dns.RcodeServerFailure, false
			}
			continue
		}
		m.Ns = append(m.Ns, dns.Copy(z.soa))
		if z.exists(name) {
			return dns.RcodeSuccess, ad
		}
		return dns.RcodeNameError, ad
	}
	return dns.RcodeServerFailure, false
}
