//go:debug rsa1024min=0

// The directive above lets the tests sign with a 512-bit RSA key, to check
// that verification refuses it (RFC 8301 §3.2).

package dkim_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"os"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/dkim"
	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
)

// testMessage is a small message with CRLF line ends.
const testMessage = "Received: from client.example.org by mx.example.org; Thu, 1 Jan 2026 00:00:00 +0000\r\n" +
	"From: Alice <alice@example.org>\r\n" +
	"To: Bob <bob@example.net>\r\n" +
	"Subject: Lunch\r\n" +
	"Date: Thu, 1 Jan 2026 00:00:00 +0000\r\n" +
	"Message-ID: <1@example.org>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"Shall we have lunch at noon?\r\n" +
	"\r\n" +
	"-- \r\nAlice\r\n"

// readKey loads a test key without our size check (rsa512.pem is too small
// for ParsePrivateKey on purpose).
func readKey(t testing.TB, name string) crypto.Signer {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(crypto.Signer)
}

// testKeys are the RSA and Ed25519 keys of example.org.
func testKeys(t testing.TB) []dkim.Key {
	return []dkim.Key{
		{Domain: "example.org", Selector: "rsa", Signer: readKey(t, "rsa2048.pem")},
		{Domain: "example.org", Selector: "ed", Signer: readKey(t, "ed25519.pem")},
	}
}

// keyZone publishes the public keys of keys (and extra zone lines) in a
// dnstest zone for example.org.
func keyZone(t testing.TB, keys []dkim.Key, extra string) dnstest.Zone {
	t.Helper()
	var recs strings.Builder
	for _, k := range keys {
		rec, err := dkim.Record(k.Signer.Public())
		if err != nil {
			t.Fatal(err)
		}
		recs.WriteString(dkim.ZoneEntry(k.Selector, k.Domain, rec) + "\n")
	}
	recs.WriteString(extra)
	return dnstest.Zone{Origin: "example.org", Records: recs.String(), ServFail: []string{"flaky._domainkey"}}
}

// resolverFor starts a DNS server with zones and returns a client for it.
func resolverFor(t testing.TB, zones ...dnstest.Zone) *dns.Client {
	t.Helper()
	srv := dnstest.Start(t, zones...)
	c, err := dns.New(dns.Config{Servers: []string{srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sign(t testing.TB, s *dkim.Signer, domain, msg string) string {
	t.Helper()
	h, err := s.Sign(domain, strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	return h + msg
}

func verify(t testing.TB, r dns.Resolver, msg string) []dkim.Result {
	t.Helper()
	res, err := dkim.Verify(context.Background(), r, strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func statuses(rs []dkim.Result) []dkim.Status {
	var out []dkim.Status
	for _, r := range rs {
		out = append(out, r.Status)
	}
	return out
}
