package dmarc_test

import (
	"context"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/dmarc"
	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
)

func evaluator(t testing.TB, percent int) *dmarc.Evaluator {
	t.Helper()
	srv := dnstest.Start(t,
		dnstest.Zone{Origin: "reject.test", Records: `_dmarc TXT "v=DMARC1; p=reject; sp=quarantine"` + "\n" + `sub TXT "x"` + "\n"},
		dnstest.Zone{Origin: "quar.test", Records: `_dmarc TXT "v=DMARC1; p=quarantine; rua=mailto:r@quar.test"` + "\n"},
		dnstest.Zone{Origin: "none.test", Records: `_dmarc TXT "v=DMARC1; p=none"` + "\n"},
		dnstest.Zone{Origin: "nosp.test", Records: `_dmarc TXT "v=DMARC1; p=reject"` + "\n"},
		dnstest.Zone{Origin: "strict.test", Records: `_dmarc TXT "v=DMARC1; p=reject; adkim=s; aspf=s"` + "\n"},
		dnstest.Zone{Origin: "pct.test", Records: `_dmarc TXT "v=DMARC1; p=reject; pct=50"` + "\n"},
		dnstest.Zone{Origin: "two.test", Records: `_dmarc TXT "v=DMARC1; p=reject"` + "\n" + `_dmarc TXT "v=DMARC1; p=none"` + "\n"},
		dnstest.Zone{Origin: "other.test", Records: `_dmarc TXT "v=spf1 -all"` + "\n" + `_dmarc TXT "p=reject; v=DMARC1"` + "\n"},
		dnstest.Zone{Origin: "bad.test", Records: `_dmarc TXT "v=DMARC1; p=bogus"` + "\n"},
		dnstest.Zone{Origin: "flaky.test", Records: `@ TXT "x"` + "\n", ServFail: []string{"_dmarc"}},
		dnstest.Zone{Origin: "xn--bcher-kva.test", Records: `_dmarc TXT "v=DMARC1; p=reject"` + "\n"},
		dnstest.Zone{Origin: "example.co.uk", Records: `_dmarc TXT "v=DMARC1; p=reject"` + "\n"},
	)
	c, err := dns.New(dns.Config{Servers: []string{srv.Addr()}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return &dmarc.Evaluator{Resolver: c, Percent: func() int { return percent }}
}

func pass(d string) dmarc.Identity { return dmarc.Identity{Domain: d, Pass: true} }
func fail(d string) dmarc.Identity { return dmarc.Identity{Domain: d} }

func TestEvaluate(t *testing.T) {
	t.Parallel()
	e := evaluator(t, 0)
	e99 := evaluator(t, 99)
	for _, tc := range []struct {
		name   string
		e      *dmarc.Evaluator
		in     dmarc.Input
		status dmarc.Status
		policy dmarc.Policy
		recDom string
	}{
		{"SPF aligned pass", e, dmarc.Input{FromDomain: "reject.test", SPF: pass("reject.test")}, dmarc.StatusPass, dmarc.PolicyNone, "reject.test"},
		{"SPF relaxed subdomain pass", e, dmarc.Input{FromDomain: "reject.test", SPF: pass("bounces.reject.test")}, dmarc.StatusPass, dmarc.PolicyNone, "reject.test"},
		{"SPF pass unaligned", e, dmarc.Input{FromDomain: "reject.test", SPF: pass("evil.test")}, dmarc.StatusFail, dmarc.PolicyReject, "reject.test"},
		{"nothing passes", e, dmarc.Input{FromDomain: "reject.test", SPF: fail("reject.test"), DKIM: []dmarc.Identity{fail("reject.test")}}, dmarc.StatusFail, dmarc.PolicyReject, "reject.test"},
		{"aligned DKIM rescues SPF fail", e, dmarc.Input{FromDomain: "reject.test", SPF: fail("reject.test"), DKIM: []dmarc.Identity{fail("evil.test"), pass("reject.test")}}, dmarc.StatusPass, dmarc.PolicyNone, "reject.test"},
		{"unaligned DKIM pass", e, dmarc.Input{FromDomain: "reject.test", DKIM: []dmarc.Identity{pass("evil.test")}}, dmarc.StatusFail, dmarc.PolicyReject, "reject.test"},
		{"subdomain uses sp", e, dmarc.Input{FromDomain: "Sub.Reject.Test", SPF: fail("x.test")}, dmarc.StatusFail, dmarc.PolicyQuarantine, "reject.test"},
		{"subdomain without sp uses p", e, dmarc.Input{FromDomain: "a.b.nosp.test"}, dmarc.StatusFail, dmarc.PolicyReject, "nosp.test"},
		{"subdomain aligned relaxed", e, dmarc.Input{FromDomain: "sub.reject.test", DKIM: []dmarc.Identity{pass("reject.test")}}, dmarc.StatusPass, dmarc.PolicyNone, "reject.test"},
		{"quarantine", e, dmarc.Input{FromDomain: "quar.test"}, dmarc.StatusFail, dmarc.PolicyQuarantine, "quar.test"},
		{"p=none", e, dmarc.Input{FromDomain: "none.test"}, dmarc.StatusFail, dmarc.PolicyNone, "none.test"},
		{"strict DKIM subdomain", e, dmarc.Input{FromDomain: "strict.test", DKIM: []dmarc.Identity{pass("mail.strict.test")}}, dmarc.StatusFail, dmarc.PolicyReject, "strict.test"},
		{"strict SPF subdomain", e, dmarc.Input{FromDomain: "strict.test", SPF: pass("mail.strict.test")}, dmarc.StatusFail, dmarc.PolicyReject, "strict.test"},
		{"strict exact", e, dmarc.Input{FromDomain: "strict.test", DKIM: []dmarc.Identity{pass("STRICT.test")}}, dmarc.StatusPass, dmarc.PolicyNone, "strict.test"},
		{"pct sampled in", e, dmarc.Input{FromDomain: "pct.test"}, dmarc.StatusFail, dmarc.PolicyReject, "pct.test"},
		{"pct sampled out", e99, dmarc.Input{FromDomain: "pct.test"}, dmarc.StatusFail, dmarc.PolicyQuarantine, "pct.test"},
		{"pct 100 implied", e99, dmarc.Input{FromDomain: "reject.test"}, dmarc.StatusFail, dmarc.PolicyReject, "reject.test"},
		{"no record", e, dmarc.Input{FromDomain: "nowhere.test"}, dmarc.StatusNone, dmarc.PolicyNone, ""},
		{"two records", e, dmarc.Input{FromDomain: "two.test"}, dmarc.StatusNone, dmarc.PolicyNone, ""},
		{"v= not first", e, dmarc.Input{FromDomain: "other.test"}, dmarc.StatusNone, dmarc.PolicyNone, ""},
		{"bad record", e, dmarc.Input{FromDomain: "bad.test"}, dmarc.StatusPermError, dmarc.PolicyNone, ""},
		{"DNS failure", e, dmarc.Input{FromDomain: "flaky.test"}, dmarc.StatusTempError, dmarc.PolicyNone, ""},
		{"aligned DKIM temperror", e, dmarc.Input{FromDomain: "reject.test", DKIM: []dmarc.Identity{{Domain: "reject.test", TempError: true}}}, dmarc.StatusTempError, dmarc.PolicyNone, "reject.test"},
		{"PSL org domain", e, dmarc.Input{FromDomain: "shop.example.co.uk", SPF: pass("example.co.uk")}, dmarc.StatusPass, dmarc.PolicyNone, "example.co.uk"},
		{"PSL: co.uk is not an org domain", e, dmarc.Input{FromDomain: "shop.example.co.uk", SPF: pass("other.co.uk")}, dmarc.StatusFail, dmarc.PolicyReject, "example.co.uk"},
		{"U-label From aligns with A-label d=", e, dmarc.Input{FromDomain: "Bücher.test", DKIM: []dmarc.Identity{pass("xn--bcher-kva.test")}}, dmarc.StatusPass, dmarc.PolicyNone, "xn--bcher-kva.test"},
		{"U-label From fails", e, dmarc.Input{FromDomain: "bücher.test"}, dmarc.StatusFail, dmarc.PolicyReject, "xn--bcher-kva.test"},
		{"no From domain", e, dmarc.Input{}, dmarc.StatusNone, dmarc.PolicyNone, ""},
	} {
		got := tc.e.Evaluate(context.Background(), tc.in)
		if got.Status != tc.status || got.Policy != tc.policy || got.RecordDomain != tc.recDom {
			t.Errorf("%s: status %s policy %s record at %q (%v); want %s %s %q", tc.name, got.Status, got.Policy, got.RecordDomain, got.Err, tc.status, tc.policy, tc.recDom)
		}
	}
}

func TestOrgDomain(t *testing.T) {
	for in, want := range map[string]string{
		"example.com": "example.com", "a.b.Example.COM.": "example.com", "www.example.co.uk": "example.co.uk",
		"co.uk": "co.uk", "foo.github.io": "foo.github.io", "x.foo.github.io": "foo.github.io", "sub.reject.test": "reject.test",
	} {
		if got := dmarc.OrgDomain(in); got != want {
			t.Errorf("OrgDomain(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseRecord(t *testing.T) {
	for _, ok := range []string{"v=DMARC1; p=none", "v=DMARC1;p=reject;sp=none;pct=0", " v = DMARC1 ; p=quarantine; adkim=s"} {
		if _, err := dmarc.ParseRecord(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "p=reject; v=DMARC1", "v=DMARC2; p=reject", "v=DMARC1", "v=DMARC1; p=reject; pct=101", "v=DMARC1; p=reject; sp=bogus", "v=DMARC1; p=reject; adkim=x"} {
		if _, err := dmarc.ParseRecord(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
