package dnsbl

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	srv := dnstest.Start(t,
		dnstest.Zone{Origin: "bl.test", Records: `
2.0.0.127               A 127.0.0.2
4.3.2.192               A 127.0.0.4
5.3.2.192               A 127.255.255.254
b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4 A 127.0.0.3
`},
		dnstest.Zone{Origin: "other.test", Records: "6.3.2.192 A 127.0.0.2\n"},
		dnstest.Zone{Origin: "down.test", Records: "@ A 127.0.0.1\n", ServFail: []string{"4.3.2.192"}},
	)
	r, err := dns.New(dns.Config{Servers: []string{srv.Addr()}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	zones := []string{"bl.test", "other.test", "down.test"}
	for ip, want := range map[string]Result{
		"192.2.3.4":               {Listed: []string{"bl.test"}, Failed: []string{"down.test"}},
		"192.2.3.5":               {}, // a 127.255.255.x error code is not a listing
		"192.2.3.6":               {Listed: []string{"other.test"}},
		"::ffff:127.0.0.2":        {Listed: []string{"bl.test"}},
		"4321:0:1:2:3:4:567:89ab": {Listed: []string{"bl.test"}}, // RFC 5782 §2.4's example
		"198.51.100.1":            {},
	} {
		got := Check(context.Background(), r, netip.MustParseAddr(ip), zones)
		if !slices.Equal(got.Listed, want.Listed) || !slices.Equal(got.Failed, want.Failed) {
			t.Errorf("%s: %+v, want %+v", ip, got, want)
		}
	}
}
