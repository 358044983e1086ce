package delivery_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/certs"
	"github.com/posthorn/posthorn/internal/certs/certstest"
	"github.com/posthorn/posthorn/internal/delivery"
	"github.com/posthorn/posthorn/internal/delivery/deliverytest"
	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/internal/smtp"
	"github.com/posthorn/posthorn/internal/smtpclient"
	"github.com/posthorn/posthorn/internal/tlspolicy"
)

// End to end through the Deliverer: the TLS policy of the destination
// (MTA-STS, DANE, REQUIRETLS) decides whether a message may go to the MX
// host, and a message whose policy demands TLS that cannot be had is not
// sent at all (a temporary outcome, so it waits in the queue).

// tlsBed holds the certificates: one server certificate for
// mx.example.net and mta-sts.example.net from a dev CA.
type tlsBed struct {
	server *tls.Config
	roots  *x509.CertPool
	spki   string // TLSA "3 1 1" data of the server certificate
}

func newTLSBed(t *testing.T) *tlsBed {
	t.Helper()
	files := certstest.Dev(t, t.TempDir(), []string{"mx.example.net", "mta-sts.example.net"})
	pair, err := certs.Load(files.CertFile, files.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(files.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	return &tlsBed{server: &tls.Config{Certificates: []tls.Certificate{pair}}, roots: roots, spki: hex.EncodeToString(sum[:])}
}

type policyCase struct {
	name       string
	records    string // example.net zone, besides MX and A; IP is the MX address
	ad         bool   // the zone is DNSSEC-signed (validating resolver)
	stsPolicy  string // served at mta-sts.example.net; "" none
	noRoots    bool   // the Policy trusts no WebPKI roots
	sinkTLS    bool
	sinkReqTLS bool
	requireTLS bool
	header     string // extra header field of the message
	delivered  bool
	code       smtp.EnhancedCode // when not delivered
}

const enforce = "version: STSv1\nmode: enforce\nmx: mx.example.net\nmax_age: 86400\n"

func TestTLSPolicyDelivery(t *testing.T) {
	b := newTLSBed(t)
	sts := `_mta-sts TXT "v=STSv1; id=1"` + "\nmta-sts A 127.0.0.1\n"
	cases := []policyCase{
		{name: "no policy, no STARTTLS", delivered: true},
		{name: "MTA-STS enforce, no STARTTLS", records: sts, stsPolicy: enforce, code: smtp.EnhancedCode{4, 7, 5}},
		{name: "MTA-STS enforce, STARTTLS", records: sts, stsPolicy: enforce, sinkTLS: true, delivered: true},
		{name: "MTA-STS enforce, untrusted certificate", records: sts, stsPolicy: enforce, sinkTLS: true, noRoots: true, code: smtp.EnhancedCode{4, 7, 5}},
		{name: "MTA-STS testing, no STARTTLS", records: sts, stsPolicy: "version: STSv1\nmode: testing\nmx: mx.example.net\nmax_age: 86400\n", delivered: true},
		{name: "MTA-STS enforce, MX not listed", records: sts, stsPolicy: "version: STSv1\nmode: enforce\nmx: other.example.net\nmax_age: 86400\n", sinkTLS: true, code: smtp.EnhancedCode{4, 7, 5}},
		{name: "DANE, matching key", ad: true, records: "_25._tcp.mx TLSA 3 1 1 " + b.spki, sinkTLS: true, noRoots: true, delivered: true},
		{name: "DANE, other key", ad: true, records: "_25._tcp.mx TLSA 3 1 1 " + b.spki[:60] + "0000", sinkTLS: true, code: smtp.EnhancedCode{4, 7, 5}},
		{name: "DANE, no STARTTLS", ad: true, records: "_25._tcp.mx TLSA 3 1 1 " + b.spki, code: smtp.EnhancedCode{4, 7, 5}},
		{name: "REQUIRETLS, server supports it", ad: true, sinkTLS: true, sinkReqTLS: true, requireTLS: true, delivered: true},
		{name: "REQUIRETLS, server lacks it", ad: true, sinkTLS: true, requireTLS: true, code: smtp.EnhancedCode{4, 7, 30}},
		{name: "TLS-Required: No, MTA-STS enforce, no STARTTLS", records: sts, stsPolicy: enforce, header: "TLS-Required: No\r\n", delivered: true},
		{name: "TLS-Required: No, DANE, other key", ad: true, records: "_25._tcp.mx TLSA 3 1 1 " + b.spki[:60] + "0000", sinkTLS: true, header: "TLS-Required: No\r\n", delivered: true},
		{name: "TLS-Required: No ignored with REQUIRETLS", sinkTLS: true, sinkReqTLS: true, requireTLS: true, header: "TLS-Required: No\r\n", code: smtp.EnhancedCode{4, 7, 30}},
		{name: "REQUIRETLS, MX not DNSSEC-signed", sinkTLS: true, sinkReqTLS: true, requireTLS: true, code: smtp.EnhancedCode{4, 7, 30}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runPolicyCase(t, b, tc)
		})
	}
}

func runPolicyCase(t *testing.T, b *tlsBed, tc policyCase) {
	ip := fmt.Sprintf("127.%d.%d.%d", 100+rand.IntN(100), rand.IntN(256), 2+rand.IntN(250))
	port := deliverytest.FreePort(t, ip)
	opts := deliverytest.Options{RequireTLS: tc.sinkReqTLS}
	if tc.sinkTLS {
		opts.TLS = b.server
	}
	sink := deliverytest.Start(t, ip, port, opts)

	// The policy host, on loopback; fetches for 127.0.0.1:443 go there.
	https := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tc.stsPolicy == "" || r.URL.Path != "/.well-known/mta-sts.txt" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, tc.stsPolicy)
	}))
	https.TLS = b.server
	https.StartTLS()
	t.Cleanup(https.Close)
	stsPort := https.Listener.Addr().(*net.TCPAddr).Port

	srv := dnstest.Start(t, dnstest.Zone{Origin: "example.net", AD: tc.ad, Records: "@ MX 10 mx\nmx A " + ip + "\n" + tc.records})
	res, err := dns.New(dns.Config{Servers: []string{srv.Addr()}, TrustAD: true, CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	popts := tlspolicy.Options{
		Resolver: res,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, "127.0.0.1:"+strconv.Itoa(stsPort))
		},
		CacheDir: filepath.Join(t.TempDir(), "mta-sts"),
	}
	if !tc.noRoots {
		popts.RootCAs = b.roots
	} else {
		popts.RootCAs = x509.NewCertPool() // trusts nothing
	}
	if tc.noRoots && tc.stsPolicy != "" {
		// The policy host itself must still be reachable: trust the CA
		// for the fetch only by fetching once with it.
		warm, err := tlspolicy.New(tlspolicy.Options{Resolver: res, Dial: popts.Dial, CacheDir: popts.CacheDir, RootCAs: b.roots})
		if err != nil {
			t.Fatal(err)
		}
		if req, _ := warm.Lookup(context.Background(), "example.net"); req.STS == nil {
			t.Fatal("policy not fetched")
		}
	}
	policy, err := tlspolicy.New(popts)
	if err != nil {
		t.Fatal(err)
	}
	d := delivery.New(delivery.Options{Hostname: "mail.example.org", Resolver: res, Port: port, TLSPolicy: policy, IdleTimeout: time.Second})
	t.Cleanup(d.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	env := smtpclient.Envelope{From: "alice@example.org", To: []string{"bob@example.net"}, RequireTLS: tc.requireTLS}
	out := d.Deliver(ctx, "example.net", env, []byte("From: alice@example.org\r\n"+tc.header+"Subject: policy\r\n\r\nsecret\r\n"))
	if len(out) != 1 {
		t.Fatalf("%d outcomes", len(out))
	}
	got := sink.Messages()
	if tc.delivered {
		if out[0].Reply.Code != 250 || len(got) != 1 {
			t.Fatalf("outcome %v, %d messages received; want delivered", out[0].Reply, len(got))
		}
		if got[0].TLS != (tc.sinkTLS) || got[0].RequireTLS != tc.requireTLS {
			t.Errorf("received with TLS %v, REQUIRETLS %v", got[0].TLS, got[0].RequireTLS)
		}
		return
	}
	if out[0].Reply.Code/100 != 4 || out[0].Reply.Enhanced != tc.code || len(got) != 0 {
		t.Errorf("outcome %v, %d messages received; want a %v deferral and none", out[0].Reply, len(got), tc.code)
	}
}
