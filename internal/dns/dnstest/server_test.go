package dnstest_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/posthorn/posthorn/internal/dns/dnstest"
)

var longTXT = strings.Repeat("a", 250) + strings.Repeat("b", 250) + "c"

func start(t *testing.T) *dnstest.Server {
	return dnstest.Start(t,
		dnstest.Zone{Origin: "example.org", AD: true, Records: `
@      MX  10 mx1
@      MX  20 mx2
@      TXT "v=spf1 -all"
mx1    A   127.0.0.1
mx1    AAAA ::1
long   TXT "` + longTXT[:250] + `" "` + longTXT[250:500] + `" "c"
alias  CNAME mx1.example.org.
a.b    A   127.0.0.2
bad    A   127.0.0.3
`, ServFail: []string{"bad"}},
		dnstest.Zone{Origin: "1.2.0.192.in-addr.arpa", Records: `@ PTR mx1.example.org.`},
	)
}

func ask(t *testing.T, s *dnstest.Server, network, name string, qtype uint16, do bool) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	if do {
		m.SetEdns0(1232, true)
	}
	c := &dns.Client{Net: network}
	r, _, err := c.Exchange(m, s.Addr())
	if err != nil {
		t.Fatalf("%s %s: %v", network, name, err)
	}
	return r
}

func TestServerAnswers(t *testing.T) {
	s := start(t)
	for _, network := range []string{"udp", "tcp"} {
		r := ask(t, s, network, "example.org", dns.TypeMX, true)
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 || !r.AuthenticatedData || !r.RecursionAvailable {
			t.Errorf("%s MX: rcode %d, %d answers, AD %v, RA %v", network, r.Rcode, len(r.Answer), r.AuthenticatedData, r.RecursionAvailable)
		}
	}
	if r := ask(t, s, "udp", "example.org", dns.TypeMX, false); r.AuthenticatedData {
		t.Error("AD set for a query without DO or AD")
	}
	if r := ask(t, s, "udp", "nope.example.org", dns.TypeA, true); r.Rcode != dns.RcodeNameError || len(r.Ns) != 1 {
		t.Errorf("NXDOMAIN: rcode %d, authority %v", r.Rcode, r.Ns)
	}
	// Existing name without the type, and an empty non-terminal: NODATA.
	for _, n := range []string{"mx1.example.org", "b.example.org"} {
		if r := ask(t, s, "udp", n, dns.TypeTXT, true); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 || len(r.Ns) != 1 {
			t.Errorf("NODATA %s: rcode %d, answer %v, authority %v", n, r.Rcode, r.Answer, r.Ns)
		}
	}
	if r := ask(t, s, "udp", "bad.example.org", dns.TypeA, true); r.Rcode != dns.RcodeServerFailure {
		t.Errorf("ServFail: rcode %d", r.Rcode)
	}
	r := ask(t, s, "udp", "alias.example.org", dns.TypeA, true)
	if len(r.Answer) != 2 || r.Answer[0].Header().Rrtype != dns.TypeCNAME || r.Answer[1].(*dns.A).A.String() != "127.0.0.1" {
		t.Errorf("CNAME chain: %v", r.Answer)
	}
	if r := ask(t, s, "udp", "outside.test", dns.TypeA, true); r.Rcode != dns.RcodeNameError || r.AuthenticatedData {
		t.Errorf("outside every zone: rcode %d AD %v", r.Rcode, r.AuthenticatedData)
	}
	if got := s.Queries("EXAMPLE.org.", "mx"); got != 3 {
		t.Errorf("Queries = %d, want 3", got)
	}
}

func TestServerTruncatesUDP(t *testing.T) {
	var recs strings.Builder
	for range 40 {
		recs.WriteString("big TXT \"" + strings.Repeat("x", 100) + "\"\n")
	}
	s := dnstest.Start(t, dnstest.Zone{Origin: "example.net", Records: recs.String()})
	udp := ask(t, s, "udp", "big.example.net", dns.TypeTXT, true)
	if !udp.Truncated || len(udp.Answer) >= 40 {
		t.Errorf("UDP: truncated %v with %d answers", udp.Truncated, len(udp.Answer))
	}
	tcp := ask(t, s, "tcp", "big.example.net", dns.TypeTXT, true)
	if tcp.Truncated || len(tcp.Answer) != 40 {
		t.Errorf("TCP: truncated %v with %d answers", tcp.Truncated, len(tcp.Answer))
	}
}

func TestSetZone(t *testing.T) {
	s := start(t)
	s.SetZone(t, dnstest.Zone{Origin: "example.org", Records: "@ MX 5 other"})
	r := ask(t, s, "udp", "example.org", dns.TypeMX, true)
	if len(r.Answer) != 1 || r.Answer[0].(*dns.MX).Mx != "other.example.org." || r.AuthenticatedData {
		t.Errorf("after SetZone: %v AD %v", r.Answer, r.AuthenticatedData)
	}
}

// The standard library resolver (used by the SPF library and go-msgauth)
// reaches the same server.
func TestNetResolver(t *testing.T) {
	s := start(t)
	res := s.Resolver()
	ctx := context.Background()

	mxs, err := res.LookupMX(ctx, "example.org")
	if err != nil || len(mxs) != 2 || mxs[0].Host != "mx1.example.org." || mxs[0].Pref != 10 {
		t.Errorf("LookupMX = %v, %v", mxs, err)
	}
	txts, err := res.LookupTXT(ctx, "long.example.org")
	if err != nil || len(txts) != 1 || txts[0] != longTXT {
		t.Errorf("LookupTXT long = %q, %v", txts, err)
	}
	ips, err := res.LookupIPAddr(ctx, "alias.example.org")
	if err != nil || len(ips) != 2 {
		t.Errorf("LookupIPAddr via CNAME = %v, %v", ips, err)
	}
	names, err := res.LookupAddr(ctx, "192.0.2.1")
	if err != nil || len(names) != 1 || names[0] != "mx1.example.org." {
		t.Errorf("LookupAddr = %v, %v", names, err)
	}
	var de *net.DNSError
	_, err = res.LookupTXT(ctx, "nope.example.org")
	if !errors.As(err, &de) || !de.IsNotFound {
		t.Errorf("NXDOMAIN: %v", err)
	}
	_, err = res.LookupTXT(ctx, "mx1.example.org")
	if !errors.As(err, &de) || !de.IsNotFound {
		t.Errorf("NODATA: %v", err)
	}
	_, err = res.LookupTXT(ctx, "bad.example.org")
	if !errors.As(err, &de) || de.IsNotFound || !de.Temporary() {
		t.Errorf("SERVFAIL: %v", err)
	}
}

func TestBadZone(t *testing.T) {
	ft := &fakeT{TB: t}
	func() {
		defer func() { _ = recover() }()
		dnstest.Start(ft, dnstest.Zone{Origin: "example.org", Records: "@ MX notanumber x"})
	}()
	if !ft.failed {
		t.Error("a zone that does not parse did not fail the test")
	}
}

// fakeT records Fatalf instead of stopping the real test.
type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(string, ...any) {
	f.failed = true
	panic("fatal")
}
