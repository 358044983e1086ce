package dkim_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	msgauth "github.com/emersion/go-msgauth/dkim"

	"github.com/posthorn/posthorn/internal/dkim"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
)

func TestSignVerify(t *testing.T) {
	keys := testKeys(t)
	s, err := dkim.NewSigner(keys, dkim.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := resolverFor(t, keyZone(t, keys, ""))
	signed := sign(t, s, "Example.ORG", testMessage)

	res := verify(t, r, signed)
	if !slices.Equal(statuses(res), []dkim.Status{dkim.StatusPass, dkim.StatusPass}) {
		t.Fatalf("statuses %v (%v, %v)", statuses(res), res[0].Err, res[1].Err)
	}
	for i, want := range []struct{ alg, sel string }{{"rsa-sha256", "rsa"}, {"ed25519-sha256", "ed"}} {
		sig := res[i].Signature
		if sig.Algorithm != want.alg || sig.Selector != want.sel || sig.Domain != "example.org" ||
			sig.Canonicalization != "relaxed/relaxed" || sig.BodyLength != -1 || !sig.Expiration.IsZero() {
			t.Errorf("signature %d: %+v", i, sig)
		}
		// From is oversigned; Received (trace) is not signed.
		if n := count(sig.Headers, "From"); n != 2 {
			t.Errorf("signature %d: From %d times in h=%v", i, n, sig.Headers)
		}
		if count(sig.Headers, "Received") != 0 || count(sig.Headers, "Cc") != 1 || count(sig.Headers, "List-Id") != 0 {
			t.Errorf("signature %d: h=%v", i, sig.Headers)
		}
	}

	tampered := map[string]string{
		"subject":     strings.Replace(signed, "Subject: Lunch", "Subject: Dinner", 1),
		"body":        strings.Replace(signed, "at noon", "at one", 1),
		"second From": strings.Replace(signed, "To: Bob", "From: mallory@example.net\r\nTo: Bob", 1),
		"added Cc":    strings.Replace(signed, "To: Bob", "Cc: eve@example.net\r\nTo: Bob", 1),
		"appended":    signed + "P.S. send money\r\n",
	}
	for name, msg := range tampered {
		if got := statuses(verify(t, r, msg)); !slices.Equal(got, []dkim.Status{dkim.StatusFail, dkim.StatusFail}) {
			t.Errorf("%s: statuses %v, want fail twice", name, got)
		}
	}
	// Unsigned fields and relaxed whitespace changes do not matter.
	ok := map[string]string{
		"X- field":      strings.Replace(signed, "To: Bob", "X-Spam: no\r\nTo: Bob", 1),
		"header spaces": strings.Replace(signed, "Subject: Lunch", "Subject:   Lunch  ", 1),
	}
	for name, msg := range ok {
		if got := statuses(verify(t, r, msg)); !slices.Equal(got, []dkim.Status{dkim.StatusPass, dkim.StatusPass}) {
			t.Errorf("%s: statuses %v, want pass twice", name, got)
		}
	}
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if strings.EqualFold(x, s) {
			n++
		}
	}
	return n
}

func TestSignerErrors(t *testing.T) {
	keys := testKeys(t)
	bad := []struct {
		name string
		keys []dkim.Key
		opts dkim.SignOptions
	}{
		{"no From", keys, dkim.SignOptions{Headers: []string{"Subject"}}},
		{"bad field", keys, dkim.SignOptions{Headers: []string{"From", "Sub ject"}}},
		{"bad selector", []dkim.Key{{Domain: "example.org", Selector: "a b", Signer: keys[0].Signer}}, dkim.SignOptions{}},
		{"no domain", []dkim.Key{{Selector: "s", Signer: keys[0].Signer}}, dkim.SignOptions{}},
		{"no key", []dkim.Key{{Domain: "example.org", Selector: "s"}}, dkim.SignOptions{}},
		{"weak key", []dkim.Key{{Domain: "example.org", Selector: "s", Signer: readKey(t, "rsa512.pem")}}, dkim.SignOptions{}},
	}
	for _, tt := range bad {
		if _, err := dkim.NewSigner(tt.keys, tt.opts); err == nil {
			t.Errorf("%s: NewSigner succeeded", tt.name)
		}
	}
	s, err := dkim.NewSigner(keys, dkim.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sign("example.net", strings.NewReader(testMessage)); !errors.Is(err, dkim.ErrNoKey) {
		t.Errorf("Sign for a domain without keys: %v", err)
	}
}

func TestOptions(t *testing.T) {
	keys := testKeys(t)[1:]
	s, err := dkim.NewSigner(keys, dkim.SignOptions{Headers: []string{"from", "subject", "to"}, Oversign: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	r := resolverFor(t, keyZone(t, keys, ""))
	res := verify(t, r, sign(t, s, "example.org", testMessage))
	if len(res) != 1 || res[0].Status != dkim.StatusPass || !slices.Equal(res[0].Signature.Headers, []string{"from", "from", "subject", "to"}) {
		t.Errorf("result %+v", res)
	}
	if !slices.Contains(dkim.DefaultHeaders(), "From") || !slices.Contains(dkim.DefaultOversign(), "From") {
		t.Error("defaults lack From")
	}
}

func TestExpiry(t *testing.T) {
	keys := testKeys(t)[1:]
	s, err := dkim.NewSigner(keys, dkim.SignOptions{Expiration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	r := resolverFor(t, keyZone(t, keys, ""))
	signed := sign(t, s, "example.org", testMessage)
	res := verify(t, r, signed)
	if len(res) != 1 || res[0].Status != dkim.StatusPass || res[0].Signature.Expiration.Sub(res[0].Signature.Time) != time.Hour {
		t.Fatalf("fresh: %+v", res)
	}
	later := dkim.Verifier{Resolver: r, Now: func() time.Time { return time.Now().Add(2 * time.Hour) }}
	res, err = later.Verify(context.Background(), strings.NewReader(signed))
	if err != nil || len(res) != 1 || res[0].Status != dkim.StatusPermError || !strings.Contains(res[0].Err.Error(), "expired") {
		t.Errorf("2h later: %+v %v", res, err)
	}
}

func TestVerifyKeyProblems(t *testing.T) {
	keys := testKeys(t)
	weak := dkim.Key{Domain: "example.org", Selector: "weak", Signer: readKey(t, "rsa512.pem")}
	r := resolverFor(t, keyZone(t, append(keys, weak), `
revoked._domainkey TXT "v=DKIM1; k=rsa; p="
twice._domainkey   TXT "v=DKIM1; k=ed25519; p=AAAA"
twice._domainkey   TXT "v=DKIM1; k=ed25519; p=BBBB"
flaky._domainkey   TXT "v=DKIM1; p="
`))
	// Sign with each selector through go-msgauth directly (our Signer
	// refuses the weak key).
	signWith := func(sel string, k dkim.Key) string {
		var b bytes.Buffer
		err := msgauth.Sign(&b, strings.NewReader(testMessage), &msgauth.SignOptions{
			Domain: "example.org", Selector: sel, Signer: k.Signer,
			HeaderCanonicalization: msgauth.CanonicalizationRelaxed, BodyCanonicalization: msgauth.CanonicalizationRelaxed,
		})
		if err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	tests := []struct {
		sel  string
		key  dkim.Key
		want dkim.Status
		err  string
	}{
		{"weak", weak, dkim.StatusPermError, "too short"},
		{"missing", keys[0], dkim.StatusPermError, "no key"},
		{"revoked", keys[0], dkim.StatusPermError, "revoked"},
		{"twice", keys[1], dkim.StatusPermError, "multiple"},
		{"flaky", keys[0], dkim.StatusTempError, "unavailable"},
		{"ed", keys[0], dkim.StatusPermError, "key algorithm"}, // RSA signature, Ed25519 key
	}
	for _, tt := range tests {
		res := verify(t, r, signWith(tt.sel, tt.key))
		if len(res) != 1 || res[0].Status != tt.want || res[0].Err == nil || !strings.Contains(res[0].Err.Error(), tt.err) {
			t.Errorf("%s: %+v", tt.sel, res)
		}
	}
}

func TestVerifySeveral(t *testing.T) {
	keys := testKeys(t)
	s, _ := dkim.NewSigner(keys[:1], dkim.SignOptions{})
	r := resolverFor(t, keyZone(t, keys, ""))
	signed := sign(t, s, "example.org", testMessage)
	// A broken field above a good one, and one that does not parse.
	msg := "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=nope; h=from; bh=AAAA; b=AAAA\r\n" +
		"DKIM-Signature: v=1; v=1; garbage\r\n" + signed
	got := statuses(verify(t, r, msg))
	if !slices.Equal(got, []dkim.Status{dkim.StatusPermError, dkim.StatusPermError, dkim.StatusPass}) {
		t.Errorf("statuses %v", got)
	}
	// MaxSignatures checks only the first ones.
	v := dkim.Verifier{Resolver: r, MaxSignatures: 2}
	res, err := v.Verify(context.Background(), strings.NewReader(msg))
	if err != nil || len(res) != 2 {
		t.Errorf("MaxSignatures 2: %d results, %v", len(res), err)
	}
	// Unsigned: no results.
	if res := verify(t, r, testMessage); len(res) != 0 {
		t.Errorf("unsigned: %+v", res)
	}
	// A header that never ends fails every signature, without an error.
	if got := statuses(verify(t, r, strings.SplitN(signed, "\r\n\r\n", 2)[0])); !slices.Equal(got, []dkim.Status{dkim.StatusPermError}) {
		t.Errorf("no body: %v", got)
	}
	if _, err := (&dkim.Verifier{}).Verify(context.Background(), strings.NewReader(signed)); err == nil {
		t.Error("Verifier without Resolver did not fail")
	}
	// A reader that fails is an error, not a bad signature, with one
	// signature or several, in the header or in the body.
	boom := errors.New("boom")
	for _, msg := range []string{signed, msg} {
		for _, cut := range []int{40, len(msg) - 10} {
			res, err := dkim.Verify(context.Background(), r, io.MultiReader(strings.NewReader(msg[:cut]), iotest.ErrReader(boom)))
			if !errors.Is(err, boom) {
				t.Errorf("failing reader at %d: %v, %+v", cut, err, res)
			}
		}
	}
}

// A key with t=s refuses signatures whose i= is in a subdomain of d=
// (RFC 6376 §3.6.1); i= equal to d= is fine.
func TestStrictKeyFlag(t *testing.T) {
	key := testKeys(t)[1]
	rec, _ := dkim.Record(key.Signer.Public())
	r := resolverFor(t, dnstest.Zone{Origin: "example.org", Records: dkim.ZoneEntry("strict", "example.org", rec+"; t=y:s") + "\n" +
		dkim.ZoneEntry("loose", "example.org", rec+"; t=y")})
	for _, tt := range []struct {
		sel, id string
		want    dkim.Status
	}{
		{"strict", "alice@example.org", dkim.StatusPass},
		{"strict", "alice@mail.example.org", dkim.StatusPermError},
		{"loose", "alice@mail.example.org", dkim.StatusPass},
	} {
		var b bytes.Buffer
		err := msgauth.Sign(&b, strings.NewReader(testMessage), &msgauth.SignOptions{
			Domain: "example.org", Selector: tt.sel, Identifier: tt.id, Signer: key.Signer,
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := statuses(verify(t, r, b.String())); !slices.Equal(got, []dkim.Status{tt.want}) {
			t.Errorf("%s with i=%s: %v, want %s", tt.sel, tt.id, got, tt.want)
		}
	}
}
