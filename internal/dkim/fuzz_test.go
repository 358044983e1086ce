package dkim_test

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/dkim"
	"github.com/posthorn/posthorn/internal/dns"
)

// The seed corpora are in testdata/fuzz; signed.eml-like seeds there were
// signed with testdata/ed25519.pem (selector "ed", no expiry).

func FuzzParseSignature(f *testing.F) {
	f.Add(goodSig)
	f.Add("v=1;a=ed25519-sha256;d=example.org;s=s;h=from;bh=YWJj;b=ZGVm")
	f.Add("v=1; v=1")
	f.Fuzz(func(t *testing.T, value string) {
		sig, err := dkim.ParseSignature(value)
		if err != nil {
			if sig != nil {
				t.Fatal("signature and error")
			}
			return
		}
		if sig.Domain == "" || sig.Domain != strings.ToLower(sig.Domain) || sig.Selector == "" {
			t.Errorf("domain %q selector %q", sig.Domain, sig.Selector)
		}
		hasFrom := false
		for _, h := range sig.Headers {
			hasFrom = hasFrom || strings.EqualFold(h, "from")
		}
		if !hasFrom || len(sig.Data) == 0 || len(sig.BodyHash) == 0 || sig.BodyLength < -1 {
			t.Errorf("accepted %+v", sig)
		}
		if !sig.Time.IsZero() && !sig.Expiration.IsZero() && !sig.Expiration.After(sig.Time) {
			t.Errorf("x= %v not after t= %v", sig.Expiration, sig.Time)
		}
		if sig.Algorithm != "rsa-sha256" && sig.Algorithm != "ed25519-sha256" {
			t.Errorf("algorithm %q", sig.Algorithm)
		}
	})
}

// staticTXT is a Resolver that knows some TXT records (lower-case name
// without trailing dot → text) and nothing else.
type staticTXT map[string]string

var _ dns.Resolver = staticTXT{}

func (s staticTXT) LookupTXT(_ context.Context, name string) ([]string, dns.Result, error) {
	if txt, ok := s[strings.ToLower(strings.TrimSuffix(name, "."))]; ok {
		return []string{txt}, dns.Result{}, nil
	}
	return nil, dns.Result{}, &dns.Error{Name: name, Type: "TXT", Kind: dns.ErrNXDomain}
}

func (staticTXT) LookupMX(_ context.Context, name string) ([]dns.MX, dns.Result, error) {
	return nil, dns.Result{}, &dns.Error{Name: name, Type: "MX", Kind: dns.ErrNXDomain}
}

func (staticTXT) LookupIP(_ context.Context, _, host string) ([]netip.Addr, dns.Result, error) {
	return nil, dns.Result{}, &dns.Error{Name: host, Type: "A", Kind: dns.ErrNXDomain}
}

func (staticTXT) LookupAddr(_ context.Context, ip netip.Addr) ([]string, dns.Result, error) {
	return nil, dns.Result{}, &dns.Error{Name: ip.String(), Type: "PTR", Kind: dns.ErrNXDomain}
}

func (staticTXT) LookupTLSA(_ context.Context, _ int, _, host string) ([]dns.TLSA, dns.Result, error) {
	return nil, dns.Result{}, &dns.Error{Name: host, Type: "TLSA", Kind: dns.ErrNXDomain}
}

func (staticTXT) LookupCNAME(_ context.Context, host string) (string, dns.Result, error) {
	return "", dns.Result{}, &dns.Error{Name: host, Type: "A", Kind: dns.ErrNXDomain}
}

func FuzzVerify(f *testing.F) {
	key := readKey(f, "ed25519.pem")
	rec, err := dkim.Record(key.Public())
	if err != nil {
		f.Fatal(err)
	}
	s, err := dkim.NewSigner([]dkim.Key{{Domain: "example.org", Selector: "ed", Signer: key}}, dkim.SignOptions{})
	if err != nil {
		f.Fatal(err)
	}
	signed := sign(f, s, "example.org", testMessage)
	f.Add([]byte(signed))
	f.Add([]byte(testMessage))
	f.Add([]byte("DKIM-Signature: v=1\r\n\r\n"))
	res := staticTXT{"ed._domainkey.example.org": rec}
	f.Fuzz(func(t *testing.T, msg []byte) {
		results, err := dkim.Verify(context.Background(), res, bytes.NewReader(msg))
		if err != nil {
			return // header too large
		}
		if len(results) > 10 {
			t.Fatalf("%d results", len(results))
		}
		for _, r := range results {
			if r.Status == dkim.StatusPass {
				if r.Err != nil || r.Signature == nil || r.Signature.Domain != "example.org" || r.Signature.Selector != "ed" {
					t.Errorf("pass with %+v", r)
				}
			} else if r.Err == nil {
				t.Errorf("status %s without a reason", r.Status)
			} else if strings.Contains(r.Err.Error(), "verifier saw") {
				t.Errorf("our header split and go-msgauth's disagree: %v", r.Err)
			}
		}
	})
}
