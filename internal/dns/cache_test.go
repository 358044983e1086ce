package dns_test

import (
	"context"
	"errors"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
)

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o644) }

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestCacheTTL(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{Origin: "example.org", Records: `
$TTL 100
@     MX 10 mx
mx    A  192.0.2.1
short 30 A 192.0.2.2
zero  0  A 192.0.2.3
flaky A 192.0.2.4
`, ServFail: []string{"flaky"}})
	clk := &clock{now: time.Unix(1e9, 0)}
	c := newClient(t, srv, func(cfg *dns.Config) { cfg.Now = clk.Now; cfg.MaxTTL = 50 * time.Second })
	ctx := context.Background()
	lookup := func(name string) error {
		_, _, err := c.LookupIP(ctx, "ip4", name)
		return err
	}

	for range 3 {
		if err := lookup("mx.example.org"); err != nil {
			t.Fatal(err)
		}
		_, _, _ = c.LookupMX(ctx, "example.org")
		_ = lookup("short.example.org")
		_ = lookup("zero.example.org")
		_ = lookup("nope.example.org") // NXDOMAIN, SOA minimum 60
		_, _, _ = c.LookupTXT(ctx, "mx.example.org")
		_ = lookup("flaky.example.org")
	}
	want := map[string]int{"mx A": 1, "@ MX": 1, "short A": 1, "zero A": 3, "nope A": 1, "mx TXT": 1, "flaky A": 3}
	check := func(when string) {
		t.Helper()
		for k, n := range want {
			name, typ, _ := cut(k)
			if got := srv.Queries(name, typ); got != n {
				t.Errorf("%s: %s asked %d times, want %d", when, k, got, n)
			}
		}
	}
	check("fresh")

	// After 31s "short" (TTL 30) expires; the rest (capped at 50s) not.
	clk.Add(31 * time.Second)
	_ = lookup("short.example.org")
	_ = lookup("mx.example.org")
	want["short A"] = 2
	check("after 31s")

	// After 51s everything is past MaxTTL.
	clk.Add(20 * time.Second)
	_ = lookup("mx.example.org")
	_ = lookup("nope.example.org")
	want["mx A"], want["nope A"] = 2, 2
	check("after 51s")
}

func cut(k string) (string, string, bool) {
	for i := range k {
		if k[i] == ' ' {
			name := k[:i]
			if name == "@" {
				name = "example.org"
			} else {
				name += ".example.org"
			}
			return name, k[i+1:], true
		}
	}
	return k, "", false
}

func TestCacheBounded(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{Origin: "example.org", Records: "a A 192.0.2.1\nb A 192.0.2.2\nc A 192.0.2.3"})
	c := newClient(t, srv, func(cfg *dns.Config) { cfg.CacheSize = 2 })
	ctx := context.Background()
	for _, n := range []string{"a", "b", "a", "c", "a", "b"} {
		if _, _, err := c.LookupIP(ctx, "ip4", n+".example.org"); err != nil {
			t.Fatal(err)
		}
	}
	// a stays (recently used); b was evicted by c, then asked again.
	for n, want := range map[string]int{"a": 1, "b": 2, "c": 1} {
		if got := srv.Queries(n+".example.org", "A"); got != want {
			t.Errorf("%s asked %d times, want %d", n, got, want)
		}
	}
}

func TestCacheDisabled(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{Origin: "example.org", Records: "a A 192.0.2.1"})
	c := newClient(t, srv, func(cfg *dns.Config) { cfg.CacheSize = -1 })
	for range 2 {
		if _, _, err := c.LookupIP(context.Background(), "ip4", "a.example.org"); err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.Queries("a.example.org", "A"); got != 2 {
		t.Errorf("asked %d times, want 2", got)
	}
}

// The MX order is shuffled on every lookup, cached or not.
func TestCachedMXShuffled(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{Origin: "example.org", Records: "@ MX 10 a\n@ MX 10 b\n@ MX 10 c\n@ MX 10 d"})
	c := newClient(t, srv, nil)
	seen := map[string]bool{}
	for range 40 {
		mxs, _, err := c.LookupMX(context.Background(), "example.org")
		if err != nil {
			t.Fatal(err)
		}
		seen[mxs[0].Host] = true
	}
	if len(seen) < 2 || srv.Queries("example.org", "MX") != 1 {
		t.Errorf("first hosts %v after %d queries", seen, srv.Queries("example.org", "MX"))
	}
}

func TestConcurrentLookups(t *testing.T) {
	srv := dnstest.Start(t, zones()...)
	c := newClient(t, srv, func(cfg *dns.Config) { cfg.CacheSize = 3 })
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 16 {
		wg.Go(func() {
			for _, n := range []string{"mx1", "mx2", "v4only", "v6only"} {
				if _, _, err := c.LookupIP(context.Background(), "ip", n+".example.org"); err != nil {
					errs <- err
				}
			}
			if _, _, err := c.LookupMX(context.Background(), "example.org"); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// waitQueries spins until the server has received n queries for name/qtype.
func waitQueries(t *testing.T, srv *dnstest.Server, name, qtype string, n int) {
	t.Helper()
	for srv.Queries(name, qtype) < n {
		if t.Context().Err() != nil {
			t.Fatal("test ended while waiting for queries")
		}
		runtime.Gosched()
	}
}

// Identical lookups while one is in flight share its answer: one query.
func TestInflightShared(t *testing.T) {
	hold := make(chan struct{})
	srv := dnstest.Start(t, dnstest.Zone{Origin: "example.org", Records: "a A 192.0.2.1", Hold: hold})
	c := newClient(t, srv, nil)
	errs := make(chan error, 9)
	lookup := func() {
		_, _, err := c.LookupIP(context.Background(), "ip4", "a.example.org")
		errs <- err
	}
	go lookup()
	waitQueries(t, srv, "a.example.org", "A", 1) // the first is in flight
	for range 8 {
		go lookup()
	}
	close(hold)
	for range 9 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := srv.Queries("a.example.org", "A"); n != 1 {
		t.Errorf("%d queries, want 1", n)
	}
}

// When the first caller gives up, a waiting caller with a live context
// still gets its answer.
func TestInflightLeaderCancelled(t *testing.T) {
	hold := make(chan struct{})
	srv := dnstest.Start(t, dnstest.Zone{Origin: "example.org", Records: "a A 192.0.2.1", Hold: hold})
	c := newClient(t, srv, nil)
	ctx, cancel := context.WithCancel(context.Background())
	leader := make(chan error, 1)
	go func() {
		_, _, err := c.LookupIP(ctx, "ip4", "a.example.org")
		leader <- err
	}()
	waitQueries(t, srv, "a.example.org", "A", 1)
	follower := make(chan error, 1)
	go func() {
		_, _, err := c.LookupIP(context.Background(), "ip4", "a.example.org")
		follower <- err
	}()
	cancel()
	if err := <-leader; !dns.IsTemporary(err) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled leader: %v", err)
	}
	close(hold)
	if err := <-follower; err != nil {
		t.Errorf("follower: %v", err)
	}
}
