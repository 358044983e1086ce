package spf_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/internal/spf"
)

func resolverFor(t testing.TB, zones ...dnstest.Zone) *dns.Client {
	t.Helper()
	srv := dnstest.Start(t, zones...)
	c, err := dns.New(dns.Config{Servers: []string{srv.Addr()}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testZone publishes one policy per result and the corner cases.
func testZone() dnstest.Zone {
	var tooMany strings.Builder
	tooMany.WriteString(`"v=spf1`)
	for i := range 11 {
		fmt.Fprintf(&tooMany, " a:h%d.spf.test", i)
	}
	tooMany.WriteString(` -all"`)
	return dnstest.Zone{Origin: "spf.test", Records: `
pass      TXT "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all"
fail      TXT "v=spf1 ip4:198.51.100.1 -all"
softfail  TXT "v=spf1 ~all"
neutral   TXT "v=spf1 ?all"
nospf     TXT "some other record"
include   TXT "v=spf1 include:pass.spf.test -all"
broken    TXT "v=spf1 ip4:300.1.1.1 -all"
two       TXT "v=spf1 -all"
two       TXT "v=spf1 +all"
toomany   TXT ` + tooMany.String() + `
void      TXT "v=spf1 a:nx1.spf.test a:nx2.spf.test a:nx3.spf.test +all"
tempinc   TXT "v=spf1 include:flaky.spf.test -all"
macro     TXT "v=spf1 exists:%{ir}.%{l1+-}._spf.%{d} -all"
3.2.0.192.alice._spf.macro A 127.0.0.2
helo-mx   TXT "v=spf1 ip4:192.0.2.25 -all"
h0 A 192.0.2.200
h1 A 192.0.2.201
h2 A 192.0.2.202
h3 A 192.0.2.203
h4 A 192.0.2.204
h5 A 192.0.2.205
h6 A 192.0.2.206
h7 A 192.0.2.207
h8 A 192.0.2.208
h9 A 192.0.2.209
h10 A 192.0.2.1
`, ServFail: []string{"flaky", "down"}}
}

func TestResults(t *testing.T) {
	t.Parallel()
	r := resolverFor(t, testZone())
	ctx := context.Background()
	ip := netip.MustParseAddr("192.0.2.1")
	for _, tc := range []struct {
		sender string
		ip     string
		want   spf.Status
		domain string
	}{
		{"a@pass.spf.test", "", spf.Pass, "pass.spf.test"},
		{"a@PASS.spf.test", "2001:db8::5", spf.Pass, "pass.spf.test"},
		{"a@pass.spf.test", "::ffff:192.0.2.9", spf.Pass, "pass.spf.test"},
		{"a@pass.spf.test", "203.0.113.1", spf.Fail, "pass.spf.test"},
		{"a@fail.spf.test", "", spf.Fail, "fail.spf.test"},
		{"a@softfail.spf.test", "", spf.SoftFail, "softfail.spf.test"},
		{"a@neutral.spf.test", "", spf.Neutral, "neutral.spf.test"},
		{"a@nospf.spf.test", "", spf.None, "nospf.spf.test"},
		{"a@nonexistent.spf.test", "", spf.None, "nonexistent.spf.test"},
		{"a@include.spf.test", "", spf.Pass, "include.spf.test"},
		{"a@include.spf.test", "203.0.113.1", spf.Fail, "include.spf.test"},
		{"a@broken.spf.test", "", spf.PermError, "broken.spf.test"},
		{"a@two.spf.test", "", spf.PermError, "two.spf.test"}, // §4.5: two records
		{"a@toomany.spf.test", "", spf.PermError, "toomany.spf.test"},
		{"a@void.spf.test", "", spf.PermError, "void.spf.test"},
		{"a@down.spf.test", "", spf.TempError, "down.spf.test"},
		{"a@tempinc.spf.test", "", spf.TempError, "tempinc.spf.test"},
		// %{ir}: 3.2.0.192; %{l1+-} the last part of the local part split at + and -.
		{"alice@macro.spf.test", "192.0.2.3", spf.Pass, "macro.spf.test"},
		{"bob+alice@macro.spf.test", "192.0.2.3", spf.Pass, "macro.spf.test"},
		{"bob@macro.spf.test", "192.0.2.3", spf.Fail, "macro.spf.test"},
		{"alice@macro.spf.test", "192.0.2.4", spf.Fail, "macro.spf.test"},
	} {
		addr := ip
		if tc.ip != "" {
			addr = netip.MustParseAddr(tc.ip)
		}
		got := spf.CheckMailFrom(ctx, r, addr, "client.example", tc.sender)
		if got.Status != tc.want || got.Domain != tc.domain {
			t.Errorf("%s from %s: %s for %q (%v), want %s for %q", tc.sender, addr, got.Status, got.Domain, got.Err, tc.want, tc.domain)
		}
	}
}

// TestLookupLimitCountsIncludes: the 11th DNS-querying term is a
// permerror even though the 11th would match (RFC 7208 §4.6.4).
func TestLookupLimit(t *testing.T) {
	t.Parallel()
	r := resolverFor(t, testZone())
	got := spf.CheckMailFrom(context.Background(), r, netip.MustParseAddr("192.0.2.1"), "x.example", "a@toomany.spf.test")
	if got.Status != spf.PermError || got.Err == nil || !strings.Contains(got.Err.Error(), "limit") {
		t.Errorf("got %s (%v), want permerror for the lookup limit", got.Status, got.Err)
	}
}

func TestHelo(t *testing.T) {
	t.Parallel()
	r := resolverFor(t, testZone())
	ctx := context.Background()
	if got := spf.CheckHelo(ctx, r, netip.MustParseAddr("192.0.2.25"), "helo-mx.spf.test"); got.Status != spf.Pass || got.Domain != "helo-mx.spf.test" {
		t.Errorf("HELO pass: %+v", got)
	}
	if got := spf.CheckHelo(ctx, r, netip.MustParseAddr("192.0.2.26"), "helo-mx.spf.test"); got.Status != spf.Fail {
		t.Errorf("HELO fail: %+v", got)
	}
	for _, helo := range []string{"[192.0.2.25]", "", "localhost"} {
		if got := spf.CheckHelo(ctx, r, netip.MustParseAddr("192.0.2.25"), helo); got.Status != spf.None {
			t.Errorf("HELO %q: %+v, want none", helo, got)
		}
	}
	// The null sender is checked as postmaster@HELO (RFC 7208 §2.4).
	if got := spf.CheckMailFrom(ctx, r, netip.MustParseAddr("192.0.2.25"), "helo-mx.spf.test", ""); got.Status != spf.Pass || got.Domain != "helo-mx.spf.test" {
		t.Errorf("null sender: %+v", got)
	}
}

// TestTimeout: a DNS server that does not answer in time gives temperror
// within the caller's deadline, not a hang.
func TestTimeout(t *testing.T) {
	t.Parallel()
	z := testZone()
	z.Delay = 30 * time.Second
	r := resolverFor(t, z)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	got := spf.CheckMailFrom(ctx, r, netip.MustParseAddr("192.0.2.1"), "x.example", "a@pass.spf.test")
	if got.Status != spf.TempError {
		t.Errorf("got %s (%v), want temperror", got.Status, got.Err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
}
