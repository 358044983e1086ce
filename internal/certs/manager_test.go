package certs

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writePair writes a self-signed certificate for names to dir/base.pem
// and dir/base.key and returns the pair and the DER certificate.
func writePair(t *testing.T, dir, base string, names ...string) (Pair, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p := Pair{CertFile: filepath.Join(dir, base+".pem"), KeyFile: filepath.Join(dir, base+".key")}
	if err := writePEM(p.KeyFile, "EC PRIVATE KEY", mustMarshalEC(key), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writePEM(p.CertFile, "CERTIFICATE", der, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, der
}

func served(t *testing.T, m *Manager, sni string) []byte {
	t.Helper()
	c, err := m.GetCertificate(&tls.ClientHelloInfo{ServerName: sni})
	if err != nil {
		t.Fatalf("GetCertificate(%q): %v", sni, err)
	}
	return c.Certificate[0]
}

func TestManagerSNI(t *testing.T) {
	dir := t.TempDir()
	a, aDER := writePair(t, dir, "a", "mail.a.test", "a.test")
	b, bDER := writePair(t, dir, "b", "*.b.test")
	m, err := New(Options{Pairs: []Pair{a, b}})
	if err != nil {
		t.Fatal(err)
	}
	for sni, want := range map[string][]byte{
		"mail.a.test": aDER, "A.TEST.": aDER, "imap.b.test": bDER, "MAIL.B.TEST": bDER,
		"x.y.b.test": aDER, // a wildcard covers one label only: fallback
		"other.test": aDER, "": aDER,
	} {
		if got := served(t, m, sni); !bytes.Equal(got, want) {
			t.Errorf("SNI %q got the wrong certificate", sni)
		}
	}
	if cfg := m.ServerConfig(); cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion %x", cfg.MinVersion)
	}
	if _, err := New(Options{}); err == nil {
		t.Error("New without certificates succeeded")
	}
	if _, err := New(Options{Pairs: []Pair{{CertFile: filepath.Join(dir, "nope.pem"), KeyFile: a.KeyFile}}}); err == nil {
		t.Error("New with a missing file succeeded")
	}
}

// TestManagerHandshakeWithoutSNI: a client that sends no SNI (it dials
// an IP address) gets the fallback certificate over a real handshake.
func TestManagerHandshakeWithoutSNI(t *testing.T) {
	dir := t.TempDir()
	a, aDER := writePair(t, dir, "a", "mail.a.test")
	b, _ := writePair(t, dir, "b", "mail.b.test")
	m, err := New(Options{Pairs: []Pair{a, b}, MinVersion: "1.2"})
	if err != nil {
		t.Fatal(err)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", m.ServerConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", l.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.ConnectionState().PeerCertificates[0].Raw; !bytes.Equal(got, aDER) {
		t.Error("no-SNI handshake did not get the fallback certificate")
	}
}

func TestManagerReload(t *testing.T) {
	dir := t.TempDir()
	a, aDER := writePair(t, dir, "a", "mail.a.test")
	m, err := New(Options{Pairs: []Pair{a}})
	if err != nil {
		t.Fatal(err)
	}
	_, newDER := writePair(t, dir, "a", "mail.a.test")
	if got := served(t, m, "mail.a.test"); !bytes.Equal(got, aDER) {
		t.Fatal("certificate changed before Reload")
	}
	if err := m.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := served(t, m, "mail.a.test"); !bytes.Equal(got, newDER) {
		t.Fatal("Reload did not pick up the new certificate")
	}
	// A broken file: Reload fails, the good certificate stays.
	if err := os.WriteFile(a.CertFile, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := m.Reload(); err == nil {
		t.Error("Reload of a broken file succeeded")
	}
	if got := served(t, m, "mail.a.test"); !bytes.Equal(got, newDER) {
		t.Error("a failed Reload dropped the certificate in use")
	}
}

// TestManagerWatch: replacing the files (as a renewal tool does) is
// noticed without a signal.
func TestManagerWatch(t *testing.T) {
	dir := t.TempDir()
	a, aDER := writePair(t, dir, "a", "mail.a.test")
	m, err := New(Options{Pairs: []Pair{a}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Watch(ctx, 5*time.Millisecond); close(done) }()
	defer func() { cancel(); <-done }()

	time.Sleep(20 * time.Millisecond) // let Watch see the old files first
	_, newDER := writePair(t, dir, "a", "mail.a.test")
	if bytes.Equal(aDER, newDER) {
		t.Fatal("same certificate twice")
	}
	deadline := time.Now().Add(10 * time.Second)
	for !bytes.Equal(served(t, m, "mail.a.test"), newDER) {
		if time.Now().After(deadline) {
			t.Fatal("Watch did not reload the replaced files within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pemCert is the PEM form of a DER certificate.
func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
