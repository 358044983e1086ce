package iprev_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/internal/iprev"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	srv := dnstest.Start(t,
		dnstest.Zone{Origin: "2.0.192.in-addr.arpa", Records: `
1 PTR mail.example.test.
2 PTR liar.example.test.
3 PTR other.example.test.
3 PTR mail3.example.test.
4 PTR flaky.example.test.
`, ServFail: []string{"9"}},
		dnstest.Zone{Origin: "example.test", Records: `
mail  A 192.0.2.1
liar  A 198.51.100.7
mail3 A 192.0.2.3
`, ServFail: []string{"flaky"}},
	)
	r, err := dns.New(dns.Config{Servers: []string{srv.Addr()}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]iprev.Result{
		"192.0.2.1":        {Status: iprev.Pass, Name: "mail.example.test"},
		"::ffff:192.0.2.1": {Status: iprev.Pass, Name: "mail.example.test"},
		"192.0.2.2":        {Status: iprev.Fail, Name: "liar.example.test"},
		"192.0.2.3":        {Status: iprev.Pass, Name: "mail3.example.test"},
		"192.0.2.4":        {Status: iprev.TempError, Name: "flaky.example.test"},
		"192.0.2.5":        {Status: iprev.Fail},
		"192.0.2.9":        {Status: iprev.TempError},
	} {
		if got := iprev.Check(context.Background(), r, netip.MustParseAddr(ip)); got != want {
			t.Errorf("%s: %+v, want %+v", ip, got, want)
		}
	}
}
