package spf_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/spf"
)

// txtOnly is a Resolver answering TXT from a map and NXDOMAIN for the rest,
// so the fuzzer runs without a network.
type txtOnly map[string]string

func (m txtOnly) LookupTXT(_ context.Context, name string) ([]string, dns.Result, error) {
	if v, ok := m[name]; ok {
		return []string{v}, dns.Result{}, nil
	}
	return nil, dns.Result{}, &dns.Error{Name: name, Type: "TXT", Kind: dns.ErrNXDomain}
}

func (txtOnly) LookupMX(_ context.Context, name string) ([]dns.MX, dns.Result, error) {
	return nil, dns.Result{}, &dns.Error{Name: name, Type: "MX", Kind: dns.ErrNXDomain}
}

func (txtOnly) LookupIP(_ context.Context, _, host string) ([]netip.Addr, dns.Result, error) {
	if host == "a.example" {
		return []netip.Addr{netip.MustParseAddr("192.0.2.1")}, dns.Result{}, nil
	}
	return nil, dns.Result{}, &dns.Error{Name: host, Type: "A", Kind: dns.ErrNXDomain}
}

func (txtOnly) LookupAddr(_ context.Context, ip netip.Addr) ([]string, dns.Result, error) {
	return []string{"a.example"}, dns.Result{}, nil
}

func (txtOnly) LookupTLSA(_ context.Context, _ int, _, host string) ([]dns.TLSA, dns.Result, error) {
	return nil, dns.Result{}, &dns.Error{Name: host, Type: "TLSA", Kind: dns.ErrNXDomain}
}

func (txtOnly) LookupCNAME(_ context.Context, host string) (string, dns.Result, error) {
	return host, dns.Result{}, nil
}

// FuzzRecord feeds arbitrary policy records to the check (the library
// parses them as it evaluates): it must return one of the seven results,
// never panic, and a record that is not SPF at all must give none.
func FuzzRecord(f *testing.F) {
	for _, s := range []string{
		"v=spf1 -all", "v=spf1 ip4:192.0.2.0/24 ~all", "v=spf1 a mx ptr -all",
		"v=spf1 include:inc.example redirect=a.example", "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all",
		"v=spf1 ip6:2001:db8::/32 a:a.example/24//64 ?all", "v=spf1 exp=%{x}", "v=spf1 a:%{z}",
	} {
		f.Add(s, "user@fuzz.example")
	}
	valid := map[spf.Status]bool{spf.None: true, spf.Neutral: true, spf.Pass: true, spf.Fail: true,
		spf.SoftFail: true, spf.TempError: true, spf.PermError: true}
	f.Fuzz(func(t *testing.T, record, sender string) {
		r := txtOnly{"fuzz.example": record, "inc.example": "v=spf1 a:a.example -all"}
		got := spf.CheckMailFrom(context.Background(), r, netip.MustParseAddr("192.0.2.1"), "helo.example", sender)
		if !valid[got.Status] {
			t.Fatalf("status %q", got.Status)
		}
		if sender == "user@fuzz.example" && len(record) < 6 && got.Status != spf.None {
			t.Fatalf("record %q: %s, want none", record, got.Status)
		}
	})
}
