package spf_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/internal/spf"
)

// appendixA is the DNS data of RFC 7208 Appendix A, with the PTR records
// its ptr example relies on.
const appendixA = `
@        MX    10 mx
@        MX    20 mx2
mx       A     192.0.2.11
mx2      A     192.0.2.12
@        A     192.0.2.10
amy      A     192.0.2.65
bob      A     192.0.2.66
mail-a   A     192.0.2.129
mail-b   A     192.0.2.130
www      CNAME example.com.
`

var appendixAOrg = dnstest.Zone{Origin: "example.org", Records: `
@   MX 10 mx
mx  A  192.0.2.140
`}

var appendixAReverse = []dnstest.Zone{
	{Origin: "2.0.192.in-addr.arpa", Records: `
10  PTR example.com.
11  PTR mx.example.com.
65  PTR amy.example.com.
66  PTR bob.example.com.
129 PTR mail-a.example.com.
130 PTR mail-b.example.com.
140 PTR mx.example.org.
`},
	{Origin: "0.0.10.in-addr.arpa", Records: "4 PTR bob.example.com.\n"},
}

// TestRFC7208AppendixA runs the examples of RFC 7208 Appendix A.1 (each a
// policy published by example.com) against the appendix's DNS data, over a
// real DNS server, for every address the appendix names.
func TestRFC7208AppendixA(t *testing.T) {
	t.Parallel()
	ips := []string{"192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13", "192.0.2.65", "192.0.2.66",
		"192.0.2.129", "192.0.2.130", "192.0.2.140", "192.0.2.143", "192.0.2.144", "10.0.0.4"}
	for _, tc := range []struct {
		policy string
		pass   []string // the rest fail
	}{
		// "any client passes"
		{"v=spf1 +all", ips},
		// "hosts 192.0.2.10 and 192.0.2.11 pass": A of example.com
		// only holds .10 here (.11 is mx's).
		{"v=spf1 a -all", []string{"192.0.2.10"}},
		// "no sending hosts pass since example.org has no A records"
		{"v=spf1 a:example.org -all", nil},
		// "sending hosts 192.0.2.11 and 192.0.2.12 pass"
		{"v=spf1 mx -all", []string{"192.0.2.11", "192.0.2.12"}},
		// "sending host 192.0.2.140 passes"
		{"v=spf1 mx:example.org -all", []string{"192.0.2.140"}},
		// "sending hosts 192.0.2.11, 192.0.2.12 and 192.0.2.140 pass"
		{"v=spf1 mx mx:example.org -all", []string{"192.0.2.11", "192.0.2.12", "192.0.2.140"}},
		// "any sending host in 192.0.2.8/30 or 192.0.2.140/30 passes"
		{"v=spf1 mx/30 mx:example.org/30 -all", []string{"192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13", "192.0.2.140", "192.0.2.143"}},
		// "sending host 192.0.2.65 passes (reverse DNS is valid and in
		// example.com); 192.0.2.140 fails (in example.org); 10.0.0.4 fails
		// (the reverse name does not resolve back to it)"
		{"v=spf1 ptr -all", []string{"192.0.2.10", "192.0.2.11", "192.0.2.65", "192.0.2.66", "192.0.2.129", "192.0.2.130"}},
		// "192.0.2.65 fails; 192.0.2.129 passes" (so does all of .128-.143)
		{"v=spf1 ip4:192.0.2.128/28 -all", []string{"192.0.2.129", "192.0.2.130", "192.0.2.140", "192.0.2.143"}},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			t.Parallel()
			zones := append([]dnstest.Zone{
				{Origin: "example.com", Records: appendixA + `@ TXT "` + tc.policy + `"` + "\n"},
				appendixAOrg,
			}, appendixAReverse...)
			r := resolverFor(t, zones...)
			pass := map[string]bool{}
			for _, ip := range tc.pass {
				pass[ip] = true
			}
			for _, ip := range ips {
				want := spf.Fail
				if pass[ip] {
					want = spf.Pass
				}
				got := spf.CheckMailFrom(context.Background(), r, netip.MustParseAddr(ip), "helo.example", "user@example.com")
				if got.Status != want {
					t.Errorf("%s: %s (%v), want %s", ip, got.Status, got.Err, want)
				}
			}
		})
	}
}
