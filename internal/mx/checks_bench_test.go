package mx

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/internal/smtpserver"
)

// countingResolver counts the lookups the checks make.
type countingResolver struct {
	dns.Resolver
	n atomic.Int64
}

func (c *countingResolver) LookupTXT(ctx context.Context, name string) ([]string, dns.Result, error) {
	c.n.Add(1)
	return c.Resolver.LookupTXT(ctx, name)
}

func (c *countingResolver) LookupIP(ctx context.Context, network, host string) ([]netip.Addr, dns.Result, error) {
	c.n.Add(1)
	return c.Resolver.LookupIP(ctx, network, host)
}

func (c *countingResolver) LookupMX(ctx context.Context, name string) ([]dns.MX, dns.Result, error) {
	c.n.Add(1)
	return c.Resolver.LookupMX(ctx, name)
}

func (c *countingResolver) LookupAddr(ctx context.Context, ip netip.Addr) ([]string, dns.Result, error) {
	c.n.Add(1)
	return c.Resolver.LookupAddr(ctx, ip)
}

// BenchmarkChecks measures what the checks add to one message on its own
// connection (connect, EHLO, MAIL, RCPT, DATA, QUIT; the store's fsync
// included in every case): "off" without checks; "cached" with every
// check (iprev, one DNSBL zone, SPF for MAIL FROM and HELO, DKIM with an
// RSA-2048 and an Ed25519 signature, ARC, DMARC) and a warm DNS cache;
// "cold" with the cache off, every lookup a query to the test DNS server
// on loopback. The difference to "off" is the added latency; lookups/msg
// times a real network's round trip estimates the cold cost elsewhere.
func BenchmarkChecks(b *testing.B) {
	w := newCheckWorld(b)
	body := w.sign(b, "good.test", message("a@good.test"))
	for _, mode := range []string{"off", "cached", "cold"} {
		b.Run(mode, func(b *testing.B) {
			var c *Checks
			var counter *countingResolver
			if mode != "off" {
				cacheSize := 0
				if mode == "cold" {
					cacheSize = -1
				}
				r, err := dns.New(dns.Config{Servers: []string{w.dns.Addr()}, Timeout: 2 * time.Second, CacheSize: cacheSize})
				if err != nil {
					b.Fatal(err)
				}
				counter = &countingResolver{Resolver: r}
				c = &Checks{Resolver: counter, EnforceDMARC: true, DNSBL: []string{"clean.test"}, Timeout: testTimeout}
			}
			e := newEnv(b, envOpts{checks: c})
			if reply := sendRaw(e, "bounce@good.test", body); !strings.HasPrefix(reply, "250 ") {
				b.Fatalf("warm-up: %q", reply)
			}
			if counter != nil {
				counter.n.Store(0)
			}
			b.ResetTimer()
			for range b.N {
				if reply := sendRaw(e, "bounce@good.test", body); !strings.HasPrefix(reply, "250 ") {
					b.Fatalf("reply %q", reply)
				}
			}
			b.StopTimer()
			if counter != nil {
				b.ReportMetric(float64(counter.n.Load())/float64(b.N), "lookups/msg")
			}
		})
	}
}

// BenchmarkCheckLatency times the checks alone (no SMTP, no store): the
// client checks run at MAIL and the message checks at the end of DATA, as
// for a message on a new connection. ns/op is the latency the checks add
// to each message; "cached" has a warm DNS cache, "cold" none (every
// lookup a query to the test DNS server on loopback), "cold-10ms-rtt" none
// and every answer 10 ms late.
func BenchmarkCheckLatency(b *testing.B) {
	w := newCheckWorld(b)
	body := []byte(w.sign(b, "good.test", message("a@good.test")))
	// The same zones answered 10 ms late, as by a resolver 10 ms away:
	// ns/op over 10 ms is how many round trips the checks wait for in a
	// row (lookups run concurrently where they can).
	var slow []dnstest.Zone
	for _, z := range w.zones {
		z.Delay = 10 * time.Millisecond
		slow = append(slow, z)
	}
	slowDNS := dnstest.Start(b, slow...)
	for _, mode := range []string{"cached", "cold", "cold-10ms-rtt"} {
		b.Run(mode, func(b *testing.B) {
			cacheSize, server := 0, w.dns.Addr()
			switch mode {
			case "cold":
				cacheSize = -1
			case "cold-10ms-rtt":
				cacheSize, server = -1, slowDNS.Addr()
			}
			r, err := dns.New(dns.Config{Servers: []string{server}, Timeout: 2 * time.Second, CacheSize: cacheSize})
			if err != nil {
				b.Fatal(err)
			}
			c := &Checks{Resolver: r, EnforceDMARC: true, DNSBL: []string{"clean.test"}, Timeout: testTimeout}
			be := New(Options{Hostname: "mx.example.test", Checks: c})
			ctx := context.Background()
			run := func() {
				s := be.NewSession(smtpserver.ConnInfo{RemoteAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}}).(*session)
				if err := s.Mail(ctx, "bounce@good.test", smtpserver.MailOptions{}); err != nil {
					b.Fatal(err)
				}
				if v := s.check(ctx, "client.good.test", body); v.reject != nil || v.junk {
					b.Fatalf("verdict %+v", v)
				}
				s.Close()
			}
			run()
			b.ResetTimer()
			for range b.N {
				run()
			}
		})
	}
}
