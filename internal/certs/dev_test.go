package certs

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"testing"
)

func TestEnsureDevIssuesAndReuses(t *testing.T) {
	dir := t.TempDir()
	ips := []net.IP{net.ParseIP("127.0.0.5")}
	f, err := EnsureDev(dir, []string{"mail.example.test"}, ips)
	if err != nil {
		t.Fatal(err)
	}
	ca1, _ := os.ReadFile(f.CAFile)
	cert1, _ := os.ReadFile(f.CertFile)

	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca1) {
		t.Fatal("CA file holds no certificate")
	}
	pair, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	for _, name := range []string{"mail.example.test", "127.0.0.5"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: pool}); err != nil {
			t.Errorf("certificate does not verify for %s: %v", name, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "other.test", Roots: pool}); err == nil {
		t.Error("certificate verifies for a name it was not issued for")
	}

	// Same names again: nothing changes.
	if _, err := EnsureDev(dir, []string{"mail.example.test"}, ips); err != nil {
		t.Fatal(err)
	}
	cert2, _ := os.ReadFile(f.CertFile)
	if !bytes.Equal(cert1, cert2) {
		t.Error("certificate was reissued although it covered the names")
	}

	// A new IP: new server certificate, same CA.
	if _, err := EnsureDev(dir, []string{"mail.example.test"}, []net.IP{net.ParseIP("127.0.0.9")}); err != nil {
		t.Fatal(err)
	}
	ca3, _ := os.ReadFile(f.CAFile)
	cert3, _ := os.ReadFile(f.CertFile)
	if !bytes.Equal(ca1, ca3) {
		t.Error("CA changed; clients trusting the old CA file would break")
	}
	if bytes.Equal(cert1, cert3) {
		t.Error("certificate not reissued for a new IP")
	}
}

func TestParseVersionRefusesOld(t *testing.T) {
	for _, v := range []string{"1.0", "1.1", "ssl3"} {
		if _, err := ParseVersion(v); err == nil {
			t.Errorf("ParseVersion(%q) accepted", v)
		}
	}
	if v, _ := ParseVersion(""); v != tls.VersionTLS12 {
		t.Errorf("default min version %x, want TLS 1.2", v)
	}
}
