package tlspolicy_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/certs/certstest"
	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/internal/tlspolicy"
)

func TestParseSTSRecord(t *testing.T) {
	for _, tc := range []struct {
		in, id string
	}{
		{"v=STSv1; id=20160831085700Z;", "20160831085700Z"},
		{"v=STSv1;id=abc", "abc"},
		{"v=STSv1; id=abc; ext=val_ue", "abc"},
		{"v=STSv1 ;\tid=1", "1"},
		{"v=STSv1;", ""},
		{"v=STSv1; id=", ""},
		{"v=STSv1; id=" + strings.Repeat("a", 33), ""},
		{"v=STSv1; id=a-b", ""},
		{"v=STSv1; id=a; id=b", ""},
		{"id=a; v=STSv1", ""},
		{"v=STSv2; id=a", ""},
		{"v=STSv1; id=a;; x=1", ""},
		{"v=STSv1; id=a; bad", ""},
		{"v=STSv1; id=a; x=a=b", ""},
	} {
		id, err := tlspolicy.ParseSTSRecord(tc.in)
		if id != tc.id || (err == nil) != (tc.id != "") {
			t.Errorf("ParseSTSRecord(%q) = %q, %v; want %q", tc.in, id, err, tc.id)
		}
	}
}

func TestParseSTSPolicy(t *testing.T) {
	p, err := tlspolicy.ParseSTSPolicy("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.Example.NET.\r\nmax_age: 604800\r\next_1: some value\r\n")
	if err != nil {
		t.Fatal(err)
	}
	if p.Mode != tlspolicy.ModeEnforce || p.MaxAge != 7*24*time.Hour || len(p.MX) != 2 || p.MX[1] != "*.example.net" {
		t.Errorf("policy = %+v", p)
	}
	for host, want := range map[string]bool{
		"mail.example.com": true, "MAIL.example.com.": true, "x.mail.example.com": false,
		"a.example.net": true, "a.b.example.net": false, "example.net": false, "example.com": false,
	} {
		if got := p.Match(host); got != want {
			t.Errorf("Match(%q) = %v", host, got)
		}
	}
	if p, err := tlspolicy.ParseSTSPolicy("version: STSv1\nmode: none\nmax_age: 0"); err != nil || p.Mode != tlspolicy.ModeNone {
		t.Errorf("mode none without mx: %+v, %v", p, err)
	}
	for _, bad := range []string{
		"",
		"version: STSv1\nmode: enforce\nmax_age: 86400",                     // no mx
		"version: STSv2\nmode: enforce\nmx: a.b\nmax_age: 86400",            // version
		"version: STSv1\nmode: Enforce\nmx: a.b\nmax_age: 86400",            // mode is case-sensitive
		"version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 31557601",         // max_age too large
		"version: STSv1\nmode: enforce\nmx: a.b\nmax_age: -1",               // not digits
		"version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 12345678901",      // 11 digits
		"version: STSv1\nmode: enforce\nmode: testing\nmx: a.b\nmax_age: 1", // twice
		"version: STSv1\nmode: enforce\nmx: *.com\nmax_age: 1",              // wildcard over a TLD
		"version: STSv1\nmode: enforce\nmx: a.*.b\nmax_age: 1",              // inner wildcard
		"version: STSv1\nmode: enforce\nmx: a..b\nmax_age: 1",               // empty label
		"version: STSv1\nmode: enforce\nmx a.b\nmax_age: 1",                 // no colon
		"version: STSv1\nmode: enforce\n\nmx: a.b\nmax_age: 1",              // empty line
		"version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 1\n\n",            // two terms at the end
		"version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 1\nx: \x00",       // control character
		"mode: enforce\nmx: a.b\nmax_age: 1",                                // no version
	} {
		if p, err := tlspolicy.ParseSTSPolicy(bad); err == nil {
			t.Errorf("ParseSTSPolicy(%q) = %+v, want an error", bad, p)
		}
	}
}

// stsServer is an HTTPS server for mta-sts.example.org on loopback.
type stsServer struct {
	*httptest.Server
	mu      sync.Mutex
	policy  string
	ctype   string
	status  int
	hold    chan struct{} // when set, requests wait until it is closed
	fetches atomic.Int32
}

func startSTS(t *testing.T, ca *certstest.CA, name string) *stsServer {
	t.Helper()
	s := &stsServer{ctype: "text/plain; charset=utf-8", status: 200}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		hold := s.hold
		s.mu.Unlock()
		if hold != nil {
			<-hold
		}
		if r.URL.Path != "/.well-known/mta-sts.txt" || r.Host != name {
			http.NotFound(w, r)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.status == http.StatusFound {
			http.Redirect(w, r, "https://"+name+"/elsewhere", s.status)
			return
		}
		w.Header().Set("Content-Type", s.ctype)
		w.WriteHeader(s.status)
		_, _ = w.Write([]byte(s.policy))
	}))
	s.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, true, name)}}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func (s *stsServer) set(policy, ctype string, status int) {
	s.mu.Lock()
	s.policy, s.ctype, s.status = policy, ctype, status
	s.mu.Unlock()
}

const enforcePolicy = "version: STSv1\nmode: enforce\nmx: mx1.example.org\nmx: *.mx.example.org\nmax_age: 86400\n"

type stsFixture struct {
	dns   *dnstest.Server
	https *stsServer
	ca    *certstest.CA
	dir   string
	now   time.Time
	nowMu sync.Mutex
}

func newSTSFixture(t *testing.T) *stsFixture {
	f := &stsFixture{ca: certstest.NewCA(t), dir: t.TempDir(), now: time.Now()}
	f.https = startSTS(t, f.ca, "mta-sts.example.org")
	f.https.set(enforcePolicy, "text/plain", 200)
	f.dns = dnstest.Start(t, f.zone("1"))
	return f
}

func (f *stsFixture) zone(id string) dnstest.Zone {
	txt := ""
	if id != "" {
		txt = `_mta-sts TXT "v=STSv1; id=` + id + `;"` + "\n"
	}
	return dnstest.Zone{Origin: "example.org", Records: txt + `
@ MX 10 mx1
@ MX 20 rogue.example.net.
mx1 A 127.0.0.1
mta-sts A 127.0.0.1
_mta-sts TXT "something else"
`}
}

// policy returns a Policy whose fetches reach the test HTTPS server.
func (f *stsFixture) policy(t *testing.T) *tlspolicy.Policy {
	t.Helper()
	port := f.https.Listener.Addr().(*net.TCPAddr).Port
	p, err := tlspolicy.New(tlspolicy.Options{
		Resolver: resolver(t, f.dns),
		CacheDir: f.dir,
		RootCAs:  f.ca.Pool,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, p, _ := net.SplitHostPort(addr)
			if host != "127.0.0.1" || p != "443" {
				t.Errorf("policy fetch dialled %s", addr)
			}
			var d net.Dialer
			return d.DialContext(ctx, network, net.JoinHostPort(host, strconv.Itoa(port)))
		},
		Now: func() time.Time { f.nowMu.Lock(); defer f.nowMu.Unlock(); return f.now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func lookup(t *testing.T, p *tlspolicy.Policy) tlspolicy.Requirement {
	t.Helper()
	req, err := p.Lookup(context.Background(), "example.org")
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestMTASTSLookupAndCache(t *testing.T) {
	f := newSTSFixture(t)
	p := f.policy(t)
	req := lookup(t, p)
	if req.STS == nil || req.STS.Mode != tlspolicy.ModeEnforce || req.STS.ID != "1" {
		t.Fatalf("requirement = %+v", req)
	}
	if !req.AllowMX("mx1.example.org") || !req.AllowMX("b.mx.example.org") || req.AllowMX("rogue.example.net") {
		t.Error("AllowMX does not follow the policy")
	}
	// Same id: served from the cache.
	lookup(t, p)
	if n := f.https.fetches.Load(); n != 1 {
		t.Errorf("%d fetches after two lookups with one id, want 1", n)
	}
	if fi, err := os.Stat(filepath.Join(f.dir, "example.org.json")); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("cache file: %v, %v", fi, err)
	}

	// A new Policy (a restart) uses the durable copy even when the policy
	// host is down and the TXT record is gone.
	f.https.set("", "text/plain", 500)
	f.dns.SetZone(t, f.zone(""))
	req = lookup(t, f.policy(t))
	if req.STS == nil || req.STS.ID != "1" || f.https.fetches.Load() != 1 {
		t.Errorf("after restart without DNS or HTTPS: %+v, %d fetches", req, f.https.fetches.Load())
	}

	// A new id triggers a fetch; the policy changes to testing.
	f.https.set(strings.Replace(enforcePolicy, "enforce", "testing", 1), "text/plain", 200)
	f.dns.SetZone(t, f.zone("2"))
	req = lookup(t, p)
	if req.STS == nil || req.STS.Mode != tlspolicy.ModeTesting || req.STS.ID != "2" || !req.AllowMX("rogue.example.net") {
		t.Errorf("after id change: %+v", req.STS)
	}

	// Expired: fetched again even with the same id; a failed fetch of an
	// expired policy leaves no policy.
	f.https.set("", "text/plain", 404)
	f.nowMu.Lock()
	f.now = f.now.Add(25 * time.Hour)
	f.nowMu.Unlock()
	n := f.https.fetches.Load()
	if req = lookup(t, p); req.STS != nil {
		t.Errorf("expired policy still applied: %+v", req.STS)
	}
	if f.https.fetches.Load() != n+1 {
		t.Error("expired policy not fetched again")
	}
	// The failure is remembered: no fetch per message.
	lookup(t, p)
	if f.https.fetches.Load() != n+1 {
		t.Error("failed fetch retried at once")
	}
}

func TestMTASTSRefusedResponses(t *testing.T) {
	for _, tc := range []struct {
		name, body, ctype string
		status            int
	}{
		{"redirect", enforcePolicy, "text/plain", http.StatusFound},
		{"not found", enforcePolicy, "text/plain", http.StatusNotFound},
		{"content type", enforcePolicy, "text/html", 200},
		{"too large", enforcePolicy + strings.Repeat("x-pad: "+strings.Repeat("p", 90)+"\n", 700), "text/plain", 200},
		{"bad policy", "version: STSv1\nmode: enforce\n", "text/plain", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSTSFixture(t)
			f.https.set(tc.body, tc.ctype, tc.status)
			if req := lookup(t, f.policy(t)); req.STS != nil {
				t.Errorf("policy applied: %+v", req.STS)
			}
			if f.https.fetches.Load() == 0 {
				t.Error("no fetch")
			}
		})
	}
	// A certificate not valid for mta-sts.example.org: no policy.
	f := newSTSFixture(t)
	f.https.TLS.Certificates = []tls.Certificate{f.ca.Issue(t, true, "other.example.org")}
	if req := lookup(t, f.policy(t)); req.STS != nil {
		t.Errorf("policy from a host with the wrong certificate: %+v", req.STS)
	}
}

// Under enforce a host that fails the certificate check or offers no TLS
// is refused; under testing the delivery goes on.
func TestMTASTSHost(t *testing.T) {
	f := newSTSFixture(t)
	p := f.policy(t)
	ctx := context.Background()
	req := lookup(t, p)
	hp, err := p.Host(ctx, req, dns.Host{Name: "mx1.example.org"}, tlspolicy.Message{})
	if err != nil || hp.Source != tlspolicy.SourceMTASTS || !hp.Mandatory() || !hp.WebPKI {
		t.Fatalf("Host = %+v, %v", hp, err)
	}
	if hp.Plaintext() == nil {
		t.Error("enforce: plaintext allowed")
	}
	if err := handshake(t, f.ca.Issue(t, true, "mx1.example.org"), hp.TLSConfig(nil)); err != nil {
		t.Errorf("valid certificate: %v", err)
	}
	if err := handshake(t, f.ca.Issue(t, true, "mx2.example.org"), hp.TLSConfig(nil)); err == nil {
		t.Error("enforce: certificate for another name accepted")
	}
	if _, err := p.Host(ctx, req, dns.Host{Name: "rogue.example.net"}, tlspolicy.Message{}); err == nil {
		t.Error("enforce: non-matching MX accepted by Host")
	}

	tst := *req.STS
	tst.Mode = tlspolicy.ModeTesting
	req.STS = &tst
	hp, err = p.Host(ctx, req, dns.Host{Name: "mx1.example.org"}, tlspolicy.Message{})
	if err != nil || hp.Mandatory() || hp.Plaintext() != nil {
		t.Errorf("testing: %+v, %v", hp, err)
	}
	if err := handshake(t, f.ca.Issue(t, true, "mx2.example.org"), hp.TLSConfig(nil)); err != nil {
		t.Errorf("testing: bad certificate refused: %v", err)
	}
	// REQUIRETLS overrides testing, and a matching MX stands in for DNSSEC.
	hp, err = p.Host(ctx, req, dns.Host{Name: "mx1.example.org"}, tlspolicy.Message{RequireTLS: true})
	if err != nil || !hp.Mandatory() || hp.Plaintext() == nil {
		t.Errorf("testing + REQUIRETLS: %+v, %v", hp, err)
	}
}

// Lookups at once for a domain whose policy is not cached share one fetch.
func TestMTASTSOneFetchAtATime(t *testing.T) {
	f := newSTSFixture(t)
	p := f.policy(t)
	hold := make(chan struct{})
	f.https.mu.Lock()
	f.https.hold = hold
	f.https.mu.Unlock()
	var wg sync.WaitGroup
	errs := make(chan string, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := p.Lookup(context.Background(), "example.org")
			if err != nil || req.STS == nil || req.STS.Mode != tlspolicy.ModeEnforce {
				errs <- fmt.Sprintf("%+v, %v", req, err)
			}
		}()
	}
	// Hold the first fetch until it has arrived, so that the other
	// lookups meet it in flight (or, if later, find its result cached).
	deadline := time.Now().Add(30 * time.Second)
	for f.https.fetches.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	close(hold)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("concurrent lookup: %s", e)
	}
	if n := f.https.fetches.Load(); n != 1 {
		t.Errorf("%d fetches for 20 concurrent lookups, want 1", n)
	}
}
