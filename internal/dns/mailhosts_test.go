package dns_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
)

func TestMailHosts(t *testing.T) {
	srv := dnstest.Start(t,
		dnstest.Zone{Origin: "mx.test", AD: true, Records: "@ MX 20 b\n@ MX 10 a\na A 192.0.2.1\nb A 192.0.2.2"},
		dnstest.Zone{Origin: "implicit.test", AD: true, Records: "@ A 192.0.2.3"},
		dnstest.Zone{Origin: "implicit6.test", Records: "@ AAAA 2001:db8::3"},
		dnstest.Zone{Origin: "nullmx.test", Records: "@ MX 0 .\n@ A 192.0.2.4"},
		dnstest.Zone{Origin: "mixed.test", Records: "@ MX 0 .\n@ MX 10 real"},
		dnstest.Zone{Origin: "nothing.test", Records: "@ TXT \"v=spf1 -all\""},
		dnstest.Zone{Origin: "alias.test", Records: "@ CNAME implicit.test.\nmx CNAME mx.test."},
		dnstest.Zone{Origin: "fail.test", Records: "@ A 192.0.2.5", ServFail: []string{"@"}},
	)
	c := newClient(t, srv, nil)
	tests := []struct {
		domain string
		want   []dns.Host
		kind   error
	}{
		{"mx.test", []dns.Host{{Name: "a.mx.test", Pref: 10, Authentic: true}, {Name: "b.mx.test", Pref: 20, Authentic: true}}, nil},
		{"implicit.test", []dns.Host{{Name: "implicit.test", Implicit: true, Authentic: true}}, nil},
		{"implicit6.test", []dns.Host{{Name: "implicit6.test", Implicit: true}}, nil},
		{"nullmx.test", nil, dns.ErrNullMX},
		{"mixed.test", []dns.Host{{Name: "real.mixed.test", Pref: 10}}, nil},
		{"nothing.test", nil, dns.ErrNoRecords},
		{"nope.test", nil, dns.ErrNXDomain},
		// A CNAME at the domain: the implicit host is the canonical name,
		// and MX records are those of the target.
		{"alias.test", []dns.Host{{Name: "implicit.test", Implicit: true}}, nil},
		{"mx.alias.test", []dns.Host{{Name: "a.mx.test", Pref: 10}, {Name: "b.mx.test", Pref: 20}}, nil},
		{"fail.test", nil, dns.ErrTemporary},
	}
	for _, tt := range tests {
		got, err := dns.MailHosts(context.Background(), c, tt.domain)
		if !errors.Is(err, tt.kind) || (tt.kind == nil && err != nil) || !slices.Equal(got, tt.want) {
			t.Errorf("MailHosts(%s) = %+v, %v; want %+v, %v", tt.domain, got, err, tt.want, tt.kind)
		}
		if tt.kind == dns.ErrNullMX && (dns.IsTemporary(err) || dns.IsNotFound(err)) {
			t.Errorf("null MX error %v also matches another kind", err)
		}
	}
}
