package tlspolicy_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/posthorn/posthorn/internal/certs/certstest"
	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/internal/tlspolicy"
)

// hostPolicy looks up the MX of domain through s and returns the policy
// of its first host.
func hostPolicy(t *testing.T, p *tlspolicy.Policy, s *dnstest.Server, domain string, msg tlspolicy.Message) (tlspolicy.HostPolicy, error) {
	t.Helper()
	ctx := context.Background()
	hosts, err := dns.MailHosts(ctx, resolver(t, s), domain)
	if err != nil {
		t.Fatal(err)
	}
	req, err := p.Lookup(ctx, domain)
	if err != nil {
		t.Fatal(err)
	}
	return p.Host(ctx, req, hosts[0], msg)
}

func newPolicy(t *testing.T, s *dnstest.Server, ca *certstest.CA) *tlspolicy.Policy {
	t.Helper()
	opts := tlspolicy.Options{Resolver: resolver(t, s)}
	if ca != nil {
		opts.RootCAs = ca.Pool
	}
	p, err := tlspolicy.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDANEEE(t *testing.T) {
	good := certstest.SelfSignedCert(t, "not-the-mx.invalid") // DANE-EE ignores names
	bad := certstest.SelfSignedCert(t, "mx.example.org")
	s := dnstest.Start(t, dnstest.Zone{Origin: "example.org", AD: true, Records: `
@ MX 10 mx
mx A 127.0.0.1
_25._tcp.mx TLSA 3 1 1 ` + spkiSHA256(good.Leaf) + `
_25._tcp.mx TLSA 1 1 1 ` + spkiSHA256(bad.Leaf) + `
`})
	p := newPolicy(t, s, nil)
	hp, err := hostPolicy(t, p, s, "example.org", tlspolicy.Message{})
	if err != nil {
		t.Fatal(err)
	}
	if hp.Source != tlspolicy.SourceDANE || hp.Security != tlspolicy.Verify || len(hp.TLSA) != 1 || !hp.Mandatory() {
		t.Fatalf("host policy = %+v", hp)
	}
	if err := hp.Plaintext(); err == nil {
		t.Error("Plaintext allowed under DANE")
	}
	if err := handshake(t, good, hp.TLSConfig(nil)); err != nil {
		t.Errorf("matching DANE-EE certificate: %v", err)
	}
	// The PKIX-EE record matching bad is unusable for SMTP (RFC 7672 §3.1.3).
	err = handshake(t, bad, hp.TLSConfig(nil))
	var pe *tlspolicy.Error
	if !errors.As(err, &pe) || pe.Source != tlspolicy.SourceDANE {
		t.Errorf("certificate matching no usable record: %v", err)
	}
}

func TestDANETA(t *testing.T) {
	ca := certstest.NewCA(t)
	sum := sha256.Sum256(ca.Cert.Raw)
	s := dnstest.Start(t, dnstest.Zone{Origin: "example.org", AD: true, Records: `
@ MX 10 mx
mx A 127.0.0.1
_25._tcp.mx TLSA 2 0 1 ` + hex.EncodeToString(sum[:]) + `
`})
	p := newPolicy(t, s, nil) // no WebPKI roots: DANE-TA alone must do
	hp, err := hostPolicy(t, p, s, "example.org", tlspolicy.Message{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ok   bool
		cert tls.Certificate
	}{
		{"chain with the trust anchor", true, ca.Issue(t, true, "mx.example.org")},
		{"wrong name", false, ca.Issue(t, true, "other.example.org")},
		{"anchor not sent", false, ca.Issue(t, false, "mx.example.org")},
		{"other issuer", false, certstest.NewCA(t).Issue(t, true, "mx.example.org")},
	} {
		err := handshake(t, tc.cert, hp.TLSConfig(nil))
		if (err == nil) != tc.ok {
			t.Errorf("%s: handshake error %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestDANENotApplied(t *testing.T) {
	cert := certstest.SelfSignedCert(t, "mx.example.org")
	tlsa := "_25._tcp.mx TLSA 3 1 1 " + spkiSHA256(cert.Leaf)
	// Without the AD bit the records are ignored: opportunistic.
	s := dnstest.Start(t, dnstest.Zone{Origin: "example.org", Records: "@ MX 10 mx\nmx A 127.0.0.1\n" + tlsa})
	hp, err := hostPolicy(t, newPolicy(t, s, nil), s, "example.org", tlspolicy.Message{})
	if err != nil || hp.Security != tlspolicy.Opportunistic || hp.Plaintext() != nil {
		t.Errorf("insecure zone: %+v, %v", hp, err)
	}
	// Only unusable records: TLS mandatory, certificate unchecked.
	s = dnstest.Start(t, dnstest.Zone{Origin: "example.org", AD: true, Records: "@ MX 10 mx\nmx A 127.0.0.1\n_25._tcp.mx TLSA 0 0 1 " + spkiSHA256(cert.Leaf)})
	hp, err = hostPolicy(t, newPolicy(t, s, nil), s, "example.org", tlspolicy.Message{})
	if err != nil || hp.Security != tlspolicy.Encrypt || hp.Plaintext() == nil {
		t.Errorf("unusable records: %+v, %v", hp, err)
	}
	if err := handshake(t, certstest.SelfSignedCert(t, "x.invalid"), hp.TLSConfig(nil)); err != nil {
		t.Errorf("encrypt-only: %v", err)
	}
	// A failing TLSA lookup defers.
	s = dnstest.Start(t, dnstest.Zone{Origin: "example.org", AD: true, Records: "@ MX 10 mx\nmx A 127.0.0.1\n" + tlsa, ServFail: []string{"_25._tcp.mx"}})
	_, err = hostPolicy(t, newPolicy(t, s, nil), s, "example.org", tlspolicy.Message{})
	var pe *tlspolicy.Error
	if !errors.As(err, &pe) || !pe.Temporary() {
		t.Errorf("TLSA SERVFAIL: %v, want a *tlspolicy.Error", err)
	}
}

func TestREQUIRETLS(t *testing.T) {
	ca := certstest.NewCA(t)
	msg := tlspolicy.Message{RequireTLS: true}
	// Insecure MX and no MTA-STS: no host qualifies (RFC 8689 §4.2.1).
	s := dnstest.Start(t, dnstest.Zone{Origin: "example.org", Records: "@ MX 10 mx\nmx A 127.0.0.1"})
	if _, err := hostPolicy(t, newPolicy(t, s, ca), s, "example.org", msg); err == nil {
		t.Error("REQUIRETLS accepted an unauthenticated MX")
	}
	// Authenticated MX without TLSA: WebPKI.
	s = dnstest.Start(t, dnstest.Zone{Origin: "example.org", AD: true, Records: "@ MX 10 mx\nmx A 127.0.0.1"})
	hp, err := hostPolicy(t, newPolicy(t, s, ca), s, "example.org", msg)
	if err != nil || hp.Security != tlspolicy.Verify || !hp.WebPKI || hp.Source != tlspolicy.SourceREQUIRETLS {
		t.Fatalf("secure MX: %+v, %v", hp, err)
	}
	if err := hp.Plaintext(); err == nil {
		t.Error("REQUIRETLS: plaintext allowed")
	}
	if err := handshake(t, ca.Issue(t, true, "mx.example.org"), hp.TLSConfig(nil)); err != nil {
		t.Errorf("valid certificate: %v", err)
	}
	if err := handshake(t, certstest.SelfSignedCert(t, "mx.example.org"), hp.TLSConfig(nil)); err == nil {
		t.Error("self-signed certificate accepted under REQUIRETLS")
	}
	if hp.CheckREQUIRETLS(false) == nil || hp.CheckREQUIRETLS(true) != nil {
		t.Error("CheckREQUIRETLS")
	}
	// Without REQUIRETLS the same host is opportunistic.
	hp, _ = hostPolicy(t, newPolicy(t, s, ca), s, "example.org", tlspolicy.Message{})
	if hp.Mandatory() || hp.CheckREQUIRETLS(false) != nil || hp.Plaintext() != nil {
		t.Errorf("no REQUIRETLS: %+v", hp)
	}
	if err := handshake(t, certstest.SelfSignedCert(t, "x.invalid"), hp.TLSConfig(nil)); err != nil {
		t.Errorf("opportunistic TLS refused a certificate: %v", err)
	}
}

func TestNilPolicy(t *testing.T) {
	var p *tlspolicy.Policy
	ctx := context.Background()
	req, err := p.Lookup(ctx, "Example.ORG.")
	if err != nil || req.Domain != "example.org" || req.STS != nil || !req.AllowMX("anything") {
		t.Errorf("Lookup = %+v, %v", req, err)
	}
	hp, err := p.Host(ctx, req, dns.Host{Name: "mx.example.org", Authentic: true}, tlspolicy.Message{})
	if err != nil || hp.Mandatory() {
		t.Errorf("Host = %+v, %v", hp, err)
	}
	if _, err := p.Host(ctx, req, dns.Host{Name: "mx.example.org"}, tlspolicy.Message{RequireTLS: true}); err == nil {
		t.Error("REQUIRETLS to an unauthenticated MX allowed")
	}
}

func TestTLSOptional(t *testing.T) {
	for msg, want := range map[string]bool{
		"TLS-Required: No\r\nSubject: x\r\n\r\nbody":     true,
		"Subject: x\r\ntls-required:   no  \r\n\r\nbody": true,
		"Subject: x\r\nTLS-Required:\r\n No\r\n\r\nbody": true,
		"Subject: x\r\nTLS-Required: Yes\r\n\r\nbody":    false,
		"Subject: x\r\n\r\nTLS-Required: No\r\n":         false, // in the body
		"X-TLS-Required: No\r\n\r\n":                     false,
		"TLS-Required: No":                               true,
		"Subject: TLS-Required: No\r\n\r\n":              false,
	} {
		if got := tlspolicy.TLSOptional([]byte(msg)); got != want {
			t.Errorf("TLSOptional(%q) = %v", msg, got)
		}
	}
	// Under DANE a TLS-optional message is opportunistic; with REQUIRETLS
	// the header is ignored (RFC 8689 §4.1).
	cert := certstest.SelfSignedCert(t, "mx.example.org")
	s := dnstest.Start(t, dnstest.Zone{Origin: "example.org", AD: true, Records: "@ MX 10 mx\nmx A 127.0.0.1\n_25._tcp.mx TLSA 3 1 1 " + spkiSHA256(cert.Leaf)})
	p := newPolicy(t, s, nil)
	hp, err := hostPolicy(t, p, s, "example.org", tlspolicy.Message{TLSOptional: true})
	if err != nil || hp.Mandatory() || hp.Plaintext() != nil {
		t.Errorf("TLS-Required: No under DANE: %+v, %v", hp, err)
	}
	hp, err = hostPolicy(t, p, s, "example.org", tlspolicy.Message{TLSOptional: true, RequireTLS: true})
	if err != nil || !hp.Mandatory() || hp.Source != tlspolicy.SourceDANE {
		t.Errorf("TLS-Required: No with REQUIRETLS: %+v, %v", hp, err)
	}
}
