package delivery_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/delivery"
	"github.com/posthorn/posthorn/internal/delivery/deliverytest"
	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/internal/smtpclient"
)

// Routes: a smarthost for every domain that logs in with AUTH PLAIN over
// verified TLS, and a fixed host:port for one domain; no MX lookups for
// either.
func TestRoutes(t *testing.T) {
	b := newTLSBed(t)
	ip := fmt.Sprintf("127.%d.%d.%d", 100+rand.IntN(100), rand.IntN(256), 2+rand.IntN(250))
	smartPort := deliverytest.FreePort(t, ip)
	smarthost := deliverytest.Start(t, ip, smartPort, deliverytest.Options{TLS: b.server, Users: map[string]string{"relay-user": "relay-pass"}})
	fixedPort := deliverytest.FreePort(t, ip)
	fixed := deliverytest.Start(t, ip, fixedPort, deliverytest.Options{})
	zones := dnstest.Start(t) // empty: any MX lookup would fail
	res, err := dns.New(dns.Config{Servers: []string{zones.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	route := func(user, pass string) map[string]delivery.Route {
		return map[string]delivery.Route{
			"*":            {Host: fmt.Sprintf("mx.example.net:%d", smartPort), Username: user, Password: pass, TLSConfig: &tls.Config{RootCAs: b.roots, ServerName: "mx.example.net"}},
			"partner.test": {Host: fmt.Sprintf("%s:%d", ip, fixedPort)},
		}
	}
	// mx.example.net resolves to the sink's address through the test DNS.
	zones.SetZone(t, dnstest.Zone{Origin: "example.net", Records: "mx A " + ip})
	d := delivery.New(delivery.Options{Hostname: "mail.example.org", Resolver: res, Routes: route("relay-user", "relay-pass")})
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	env := smtpclient.Envelope{From: "a@example.org", To: []string{"x@anywhere.test", "y@anywhere.test"}}
	outs := d.Deliver(ctx, "anywhere.test", env, []byte("Subject: via smarthost\r\n\r\nhi\r\n"))
	for _, o := range outs {
		if o.Reply.Code != 250 {
			t.Fatalf("via smarthost: %+v", o.Reply)
		}
	}
	msgs := smarthost.Messages()
	if len(msgs) != 1 || msgs[0].User != "relay-user" || !msgs[0].TLS || len(msgs[0].To) != 2 {
		t.Fatalf("smarthost received %+v", msgs)
	}
	outs = d.Deliver(ctx, "partner.test", smtpclient.Envelope{From: "a@example.org", To: []string{"p@partner.test"}}, []byte("Subject: fixed\r\n\r\nhi\r\n"))
	if outs[0].Reply.Code != 250 || len(fixed.Messages()) != 1 || len(smarthost.Messages()) != 1 {
		t.Fatalf("fixed route: %+v; fixed host got %d, smarthost %d", outs[0].Reply, len(fixed.Messages()), len(smarthost.Messages()))
	}

	// A wrong password: the login fails, the message waits (temporary).
	bad := delivery.New(delivery.Options{Hostname: "mail.example.org", Resolver: res, Routes: route("relay-user", "wrong")})
	defer bad.Close()
	outs = bad.Deliver(ctx, "anywhere.test", env, []byte("Subject: bad\r\n\r\nhi\r\n"))
	if outs[0].Reply.Code/100 != 4 || !strings.Contains(outs[0].Reply.Text, "535") {
		t.Errorf("with a wrong password: %+v", outs[0].Reply)
	}
	// An untrusted certificate: no login, nothing sent.
	untrusted := route("relay-user", "relay-pass")
	r := untrusted["*"]
	r.TLSConfig = &tls.Config{ServerName: "mx.example.net"} // system roots
	untrusted["*"] = r
	d3 := delivery.New(delivery.Options{Hostname: "mail.example.org", Resolver: res, Routes: untrusted})
	defer d3.Close()
	outs = d3.Deliver(ctx, "anywhere.test", env, []byte("Subject: untrusted\r\n\r\nhi\r\n"))
	if outs[0].Reply.Code/100 != 4 || len(smarthost.Messages()) != 1 {
		t.Errorf("with an untrusted certificate: %+v, smarthost got %d", outs[0].Reply, len(smarthost.Messages()))
	}
}
