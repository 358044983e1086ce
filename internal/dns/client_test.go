package dns_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
)

const exampleOrg = `
@       MX  10 mx1
@       MX  10 mx2
@       MX  10 mx3
@       MX  20 backup.example.net.
mx1     A   192.0.2.1
mx1     AAAA 2001:db8::1
mx2     A   192.0.2.2
v4only  A   192.0.2.4
v6only  AAAA 2001:db8::6
long    TXT "first part, " "second part"
two     TXT "one"
two     TXT "two"
alias   CNAME mx1
alias2  CNAME alias
outside CNAME www.example.net.
loop1   CNAME loop2
loop2   CNAME loop1
nomail  MX  0 .
_25._tcp.mx1 TLSA 3 1 1 0123456789abcdef
broken  A   192.0.2.9
`

func zones() []dnstest.Zone {
	return []dnstest.Zone{
		{Origin: "example.org", Records: exampleOrg, AD: true, ServFail: []string{"broken"}},
		{Origin: "example.net", Records: "www A 192.0.2.80\nbackup A 192.0.2.20"},
		{Origin: "2.0.192.in-addr.arpa", Records: "1 PTR mx1.example.org.\n1 PTR other.example.org.", AD: true},
		{Origin: "8.b.d.0.1.0.0.2.ip6.arpa", Records: "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0 PTR mx1.example.org."},
		{Origin: "xn--bcher-kva.example", Records: "@ A 192.0.2.7\n_25._tcp TLSA 3 1 1 00ff"},
		{Origin: "slow.example", Records: "@ A 192.0.2.8", Delay: time.Hour},
	}
}

func newClient(t *testing.T, srv *dnstest.Server, mod func(*dns.Config)) *dns.Client {
	t.Helper()
	cfg := dns.Config{Servers: []string{srv.Addr()}, TrustAD: true}
	if mod != nil {
		mod(&cfg)
	}
	c, err := dns.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLookupMXOrder(t *testing.T) {
	srv := dnstest.Start(t, zones()...)
	seen := map[string]bool{}
	for seed := range uint64(30) {
		c := newClient(t, srv, func(cfg *dns.Config) { cfg.Rand = rand.New(rand.NewPCG(seed, 1)) })
		mxs, res, err := c.LookupMX(context.Background(), "Example.ORG.")
		if err != nil {
			t.Fatal(err)
		}
		if !res.Authentic || res.Canonical != "example.org" {
			t.Errorf("result %+v", res)
		}
		if len(mxs) != 4 || mxs[3] != (dns.MX{Host: "backup.example.net", Pref: 20}) {
			t.Fatalf("MX = %v", mxs)
		}
		var first []string
		for _, mx := range mxs[:3] {
			if mx.Pref != 10 {
				t.Fatalf("MX not sorted: %v", mxs)
			}
			first = append(first, mx.Host)
		}
		seen[strings.Join(first, ",")] = true
	}
	// Equal preferences are shuffled: 30 seeds give more than one order.
	if len(seen) < 2 {
		t.Errorf("equal-preference MX never shuffled: %v", seen)
	}
	// The same seed gives the same order (the source is really used).
	a := newClient(t, srv, func(cfg *dns.Config) { cfg.Rand = rand.New(rand.NewPCG(7, 7)) })
	b := newClient(t, srv, func(cfg *dns.Config) { cfg.Rand = rand.New(rand.NewPCG(7, 7)) })
	ma, _, _ := a.LookupMX(context.Background(), "example.org")
	mb, _, _ := b.LookupMX(context.Background(), "example.org")
	if !slices.Equal(ma, mb) {
		t.Errorf("same seed, different order: %v %v", ma, mb)
	}
}

func TestErrors(t *testing.T) {
	srv := dnstest.Start(t, zones()...)
	c := newClient(t, srv, nil)
	ctx := context.Background()
	tests := []struct {
		name string
		kind error
	}{
		{"nope.example.org", dns.ErrNXDomain},
		{"mx2.example.org", dns.ErrNoRecords},
		{"broken.example.org", dns.ErrTemporary},
		{"loop1.example.org", dns.ErrTemporary},
		{"bad..name", dns.ErrInvalidName},
		{"", dns.ErrInvalidName},
	}
	for _, tt := range tests {
		_, _, err := c.LookupTXT(ctx, tt.name)
		if !errors.Is(err, tt.kind) {
			t.Errorf("%q: err %v, want %v", tt.name, err, tt.kind)
			continue
		}
		var de *dns.Error
		if !errors.As(err, &de) || de.Type != "TXT" || de.Name != tt.name {
			t.Errorf("%q: not a *dns.Error with name and type: %#v", tt.name, err)
		}
		if got := dns.IsTemporary(err); got != (tt.kind == dns.ErrTemporary) {
			t.Errorf("%q: IsTemporary = %v", tt.name, got)
		}
		if got := dns.IsNotFound(err); got != (tt.kind == dns.ErrNXDomain || tt.kind == dns.ErrNoRecords) {
			t.Errorf("%q: IsNotFound = %v", tt.name, got)
		}
		var ne *net.DNSError
		if !errors.As(dns.NetError(err), &ne) || ne.IsNotFound != dns.IsNotFound(err) || ne.IsTemporary != dns.IsTemporary(err) {
			t.Errorf("%q: NetError = %#v", tt.name, dns.NetError(err))
		}
	}
}

func TestLookupIP(t *testing.T) {
	srv := dnstest.Start(t, zones()...)
	c := newClient(t, srv, nil)
	ctx := context.Background()
	addrs := func(s ...string) []netip.Addr {
		var out []netip.Addr
		for _, a := range s {
			out = append(out, netip.MustParseAddr(a))
		}
		return out
	}
	tests := []struct {
		network, host string
		want          []netip.Addr
		kind          error
	}{
		{"ip", "mx1.example.org", addrs("2001:db8::1", "192.0.2.1"), nil},
		{"ip4", "mx1.example.org", addrs("192.0.2.1"), nil},
		{"ip6", "mx1.example.org", addrs("2001:db8::1"), nil},
		{"ip", "v4only.example.org", addrs("192.0.2.4"), nil},
		{"ip", "v6only.example.org", addrs("2001:db8::6"), nil},
		{"ip6", "v4only.example.org", nil, dns.ErrNoRecords},
		{"ip", "example.org", nil, dns.ErrNoRecords},
		{"ip", "nope.example.org", nil, dns.ErrNXDomain},
		{"ip", "broken.example.org", nil, dns.ErrTemporary},
		{"ip", "alias2.example.org", addrs("2001:db8::1", "192.0.2.1"), nil},
		{"ip4", "bücher.example", addrs("192.0.2.7"), nil},
	}
	for _, tt := range tests {
		got, _, err := c.LookupIP(ctx, tt.network, tt.host)
		if !errors.Is(err, tt.kind) || (tt.kind == nil && err != nil) || !slices.Equal(got, tt.want) {
			t.Errorf("LookupIP(%s, %s) = %v, %v; want %v, %v", tt.network, tt.host, got, err, tt.want, tt.kind)
		}
	}
	if _, _, err := c.LookupIP(ctx, "tcp", "mx1.example.org"); err == nil {
		t.Error("LookupIP accepted network tcp")
	}
}

func TestCNAMEAndAuthentic(t *testing.T) {
	srv := dnstest.Start(t, zones()...)
	ctx := context.Background()
	c := newClient(t, srv, nil)

	name, res, err := c.LookupCNAME(ctx, "alias2.example.org")
	if err != nil || name != "mx1.example.org" || !res.Authentic {
		t.Errorf("LookupCNAME alias2 = %q %+v %v", name, res, err)
	}
	// Existing name without A records still has a canonical name.
	if name, _, err := c.LookupCNAME(ctx, "v6only.example.org"); err != nil || name != "v6only.example.org" {
		t.Errorf("LookupCNAME v6only = %q %v", name, err)
	}
	if _, _, err := c.LookupCNAME(ctx, "nope.example.org"); !errors.Is(err, dns.ErrNXDomain) {
		t.Errorf("LookupCNAME nope: %v", err)
	}
	// A chain that leaves the authentic zone is not authentic.
	ips, res, err := c.LookupIP(ctx, "ip4", "outside.example.org")
	if err != nil || len(ips) != 1 || res.Authentic || res.Canonical != "www.example.net" {
		t.Errorf("LookupIP outside = %v %+v %v", ips, res, err)
	}
	// A server that stops at the CNAME: the client asks for the target.
	srv2 := dnstest.Start(t,
		dnstest.Zone{Origin: "alias.test", Records: "www CNAME host.target.test.\nnone CNAME gone.target.test.", NoChase: true, AD: true},
		dnstest.Zone{Origin: "target.test", Records: "host A 192.0.2.99", AD: true})
	c2 := newClient(t, srv2, nil)
	ips, res, err = c2.LookupIP(ctx, "ip4", "www.alias.test")
	if err != nil || len(ips) != 1 || res.Canonical != "host.target.test" || !res.Authentic ||
		srv2.Queries("host.target.test", "A") != 1 {
		t.Errorf("unchased CNAME: %v %+v %v", ips, res, err)
	}
	if _, res, err := c2.LookupIP(ctx, "ip4", "none.alias.test"); !errors.Is(err, dns.ErrNXDomain) || res.Canonical != "gone.target.test" {
		t.Errorf("unchased CNAME to nothing: %+v %v", res, err)
	}

	// Without TrustAD nothing is authentic, whatever the server says.
	untrusting := newClient(t, srv, func(cfg *dns.Config) { cfg.TrustAD = false })
	if _, res, err := untrusting.LookupMX(ctx, "example.org"); err != nil || res.Authentic {
		t.Errorf("TrustAD=false: %+v %v", res, err)
	}
}

func TestTXTPTRTLSA(t *testing.T) {
	srv := dnstest.Start(t, zones()...)
	c := newClient(t, srv, nil)
	ctx := context.Background()

	txt, _, err := c.LookupTXT(ctx, "long.example.org")
	if err != nil || !slices.Equal(txt, []string{"first part, second part"}) {
		t.Errorf("LookupTXT long = %q %v", txt, err)
	}
	txt, _, err = c.LookupTXT(ctx, "two.example.org")
	slices.Sort(txt)
	if err != nil || !slices.Equal(txt, []string{"one", "two"}) {
		t.Errorf("LookupTXT two = %q %v", txt, err)
	}

	names, res, err := c.LookupAddr(ctx, netip.MustParseAddr("192.0.2.1"))
	slices.Sort(names)
	if err != nil || !slices.Equal(names, []string{"mx1.example.org", "other.example.org"}) || !res.Authentic {
		t.Errorf("LookupAddr v4 = %v %+v %v", names, res, err)
	}
	names, res, err = c.LookupAddr(ctx, netip.MustParseAddr("2001:db8::1"))
	if err != nil || !slices.Equal(names, []string{"mx1.example.org"}) || res.Authentic {
		t.Errorf("LookupAddr v6 = %v %+v %v", names, res, err)
	}
	// An IPv4-mapped address is looked up as IPv4.
	if names, _, err := c.LookupAddr(ctx, netip.MustParseAddr("::ffff:192.0.2.1")); err != nil || len(names) != 2 {
		t.Errorf("LookupAddr mapped = %v %v", names, err)
	}

	tlsa, res, err := c.LookupTLSA(ctx, 25, "tcp", "mx1.example.org")
	want := dns.TLSA{Usage: 3, Selector: 1, MatchingType: 1, Data: []byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}}
	if err != nil || len(tlsa) != 1 || !res.Authentic || tlsa[0].Usage != want.Usage || tlsa[0].Selector != want.Selector ||
		tlsa[0].MatchingType != want.MatchingType || string(tlsa[0].Data) != string(want.Data) {
		t.Errorf("LookupTLSA = %+v %+v %v", tlsa, res, err)
	}
	// An internationalised host name: only its non-ASCII label changes.
	if tlsa, _, err := c.LookupTLSA(ctx, 25, "tcp", "bücher.example"); err != nil || len(tlsa) != 1 {
		t.Errorf("LookupTLSA IDN = %+v %v", tlsa, err)
	}
	if _, _, err := c.LookupTLSA(ctx, 25, "tcp", "mx2.example.org"); !errors.Is(err, dns.ErrNXDomain) {
		t.Errorf("LookupTLSA none: %v", err)
	}
}

// An answer too big for UDP comes over TCP in full.
func TestTCPFallback(t *testing.T) {
	var recs strings.Builder
	for i := range 30 {
		recs.WriteString("big TXT \"" + strings.Repeat(string(rune('a'+i%26)), 120) + "\"\n")
	}
	srv := dnstest.Start(t, dnstest.Zone{Origin: "example.com", Records: recs.String()})
	c := newClient(t, srv, nil)
	txt, _, err := c.LookupTXT(context.Background(), "big.example.com")
	if err != nil || len(txt) != 30 {
		t.Fatalf("LookupTXT big: %d records, %v", len(txt), err)
	}
	if srv.Queries("big.example.com", "TXT") != 2 {
		t.Errorf("queries = %d, want 2 (UDP then TCP)", srv.Queries("big.example.com", "TXT"))
	}
}

func TestTimeoutAndFailover(t *testing.T) {
	srv := dnstest.Start(t, zones()...)
	c := newClient(t, srv, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, _, err := c.LookupIP(ctx, "ip4", "slow.example")
	var de *dns.Error
	if !errors.Is(err, dns.ErrTemporary) || !errors.As(err, &de) || !de.Timeout() {
		t.Errorf("slow lookup: %v", err)
	}

	// Config.Timeout bounds an attempt without a deadline in ctx.
	quick := newClient(t, srv, func(cfg *dns.Config) { cfg.Timeout = 50 * time.Millisecond })
	start := time.Now()
	_, _, err = quick.LookupIP(context.Background(), "ip4", "slow.example")
	if !errors.As(err, &de) || !de.Timeout() || time.Since(start) > time.Second {
		t.Errorf("Config.Timeout: %v after %v", err, time.Since(start))
	}

	// The first server fails (SERVFAIL for everything), the second answers.
	failing := dnstest.Start(t, dnstest.Zone{Origin: "example.org", ServFail: []string{"mx1"}})
	c2, err := dns.New(dns.Config{Servers: []string{failing.Addr(), srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	ips, _, err := c2.LookupIP(context.Background(), "ip4", "mx1.example.org")
	if err != nil || len(ips) != 1 || failing.Queries("mx1.example.org", "A") != 1 {
		t.Errorf("failover: %v %v (first server asked %d times)", ips, err, failing.Queries("mx1.example.org", "A"))
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := dns.New(dns.Config{}); err == nil {
		t.Error("New without servers succeeded")
	}
	if _, err := dns.New(dns.Config{Servers: []string{"127.0.0.1"}}); err == nil {
		t.Error("New with a server without port succeeded")
	}
}

func TestSystemServers(t *testing.T) {
	path := t.TempDir() + "/resolv.conf"
	if err := writeFile(path, "nameserver 127.0.0.53\nnameserver ::1\n"); err != nil {
		t.Fatal(err)
	}
	got, err := dns.SystemServers(path)
	if err != nil || !slices.Equal(got, []string{"127.0.0.53:53", "[::1]:53"}) {
		t.Errorf("SystemServers = %v, %v", got, err)
	}
}
