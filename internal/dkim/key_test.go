package dkim_test

import (
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/dkim"
)

func TestGenerateKey(t *testing.T) {
	for _, alg := range []dkim.Algorithm{dkim.RSA, dkim.Ed25519} {
		pemKey, record, err := dkim.GenerateKey(alg)
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		key, err := dkim.ParsePrivateKey(pemKey)
		if err != nil {
			t.Fatalf("%s: parse generated key: %v", alg, err)
		}
		switch pub := key.Public().(type) {
		case *rsa.PublicKey:
			if alg != dkim.RSA || pub.N.BitLen() != 2048 {
				t.Errorf("%s: got RSA key of %d bits", alg, pub.N.BitLen())
			}
		case ed25519.PublicKey:
			if alg != dkim.Ed25519 {
				t.Errorf("%s: got an Ed25519 key", alg)
			}
		}
		want, _ := dkim.Record(key.Public())
		if record != want || !strings.HasPrefix(record, "v=DKIM1; k="+string(alg)+"; p=") {
			t.Errorf("%s: record %q", alg, record)
		}
		parts := dkim.TXTStrings(record)
		if strings.Join(parts, "") != record {
			t.Errorf("%s: TXTStrings do not join to the record", alg)
		}
		for _, p := range parts {
			if len(p) > 255 {
				t.Errorf("%s: string of %d bytes", alg, len(p))
			}
		}
		if alg == dkim.RSA && len(parts) != 2 {
			t.Errorf("RSA-2048 record in %d strings, want 2", len(parts))
		}
		if alg == dkim.Ed25519 && len(parts) != 1 {
			t.Errorf("Ed25519 record in %d strings, want 1", len(parts))
		}
	}
	if _, _, err := dkim.GenerateKey("dsa"); err == nil {
		t.Error("GenerateKey(dsa) succeeded")
	}
}

func TestParsePrivateKey(t *testing.T) {
	rsaKey := readKey(t, "rsa2048.pem").(*rsa.PrivateKey)
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})
	if k, err := dkim.ParsePrivateKey(pkcs1); err != nil || !k.Public().(*rsa.PublicKey).Equal(&rsaKey.PublicKey) {
		t.Errorf("PKCS #1: %v", err)
	}
	small, _ := os.ReadFile("testdata/rsa512.pem")
	if _, err := dkim.ParsePrivateKey(small); err == nil || !strings.Contains(err.Error(), "512 bits") {
		t.Errorf("512-bit key: %v", err)
	}
	for _, bad := range []string{"", "not pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"} {
		if _, err := dkim.ParsePrivateKey([]byte(bad)); err == nil {
			t.Errorf("ParsePrivateKey(%q) succeeded", bad)
		}
	}
	path := filepath.Join(t.TempDir(), "k.pem")
	edPEM, _ := os.ReadFile("testdata/ed25519.pem")
	if err := os.WriteFile(path, edPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if k, err := dkim.LoadKey(path); err != nil || !k.Public().(ed25519.PublicKey).Equal(readKey(t, "ed25519.pem").Public()) {
		t.Errorf("LoadKey: %v", err)
	}
	if _, err := dkim.LoadKey(path + ".missing"); err == nil {
		t.Error("LoadKey of a missing file succeeded")
	}
}

func TestZoneEntry(t *testing.T) {
	rec := "v=DKIM1; k=rsa; p=" + strings.Repeat("A", 300)
	got := dkim.ZoneEntry("s1", "example.org.", rec)
	want := `s1._domainkey.example.org. 3600 IN TXT "v=DKIM1; k=rsa; p=` + strings.Repeat("A", 255-18) + `" "` + strings.Repeat("A", 300-(255-18)) + `"`
	if got != want {
		t.Errorf("ZoneEntry =\n%s\nwant\n%s", got, want)
	}
	if n := dkim.RecordName("s1", "example.org"); n != "s1._domainkey.example.org" {
		t.Errorf("RecordName = %q", n)
	}
}
