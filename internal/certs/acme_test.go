package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/certs/pebbletest"
)

// ACME against Debian's pebble on loopback (package pebbletest).

const acmeHost = "mail.example.test"

// serveChallenges runs the challenge responders pebble connects to.
func serveChallenges(t *testing.T, m *Manager, ca *pebbletest.CA, alpn, http01 bool) {
	t.Helper()
	if alpn {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(ca.TLSPort))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go m.ServeALPN(l)
	}
	if http01 {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(ca.HTTPPort))
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: m.HTTPHandler(), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(l)
		t.Cleanup(func() { srv.Close() })
	}
}

// dialChain connects as a mail client would and returns the verified
// chain's leaf.
func dialChain(t *testing.T, addr, sni string, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr,
		&tls.Config{ServerName: sni, RootCAs: roots})
	if err != nil {
		t.Fatalf("TLS to %s as %q: %v", addr, sni, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0]
}

// serveMail serves m's ServerConfig on a loopback port, as an implicit-TLS
// mail listener does, greeting each connection after its handshake.
func serveMail(t *testing.T, m *Manager) string {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", m.ServerConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				c.SetDeadline(time.Now().Add(10 * time.Second))
				if c.(*tls.Conn).Handshake() == nil {
					io.WriteString(c, "220 "+acmeHost+" ESMTP\r\n")
				}
				c.Close()
			}()
		}
	}()
	return l.Addr().String()
}

func newACME(t *testing.T, ca *pebbletest.CA, renewBefore time.Duration) *Manager {
	t.Helper()
	m, err := New(Options{ACME: &ACMEOptions{
		Hostnames: []string{acmeHost}, Email: "postmaster@example.test",
		DirectoryURL: ca.DirURL, CacheDir: filepath.Join(t.TempDir(), "acme"), HTTPClient: ca.Client,
		RenewBefore: renewBefore,
	}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestACMEPebble(t *testing.T) {
	for _, tc := range []struct {
		name         string
		alpn, http01 bool
	}{
		{"tls-alpn-01", true, false},
		// No TLS-ALPN-01 responder: autocert falls back to HTTP-01.
		{"http-01", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca := pebbletest.Start(t, 90*24*time.Hour)
			m := newACME(t, ca, 0)
			serveChallenges(t, m, ca, tc.alpn, tc.http01)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := m.Obtain(ctx); err != nil {
				t.Fatalf("Obtain: %v\npebble:\n%s", err, ca.Output())
			}
			addr := serveMail(t, m)
			leaf := dialChain(t, addr, acmeHost, ca.Roots(t))
			if err := leaf.VerifyHostname(acmeHost); err != nil {
				t.Error(err)
			}
			// Without SNI (an SMTP client dialing by address) the same
			// certificate comes back.
			c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := c.ConnectionState().PeerCertificates[0]; !got.Equal(leaf) {
				t.Error("no-SNI client got another certificate")
			}
			c.Close()
		})
	}
}

// TestACMERenewal: with short-lived certificates the served certificate
// is replaced before it expires, without a restart.
func TestACMERenewal(t *testing.T) {
	ca := pebbletest.Start(t, 40*time.Second)
	m := newACME(t, ca, 30*time.Second)
	serveChallenges(t, m, ca, true, true)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := m.Obtain(ctx); err != nil {
		t.Fatalf("Obtain: %v\npebble:\n%s", err, ca.Output())
	}
	addr := serveMail(t, m)
	roots := ca.Roots(t)
	first := dialChain(t, addr, acmeHost, roots)
	deadline := time.Now().Add(45 * time.Second)
	for {
		leaf := dialChain(t, addr, acmeHost, roots)
		if leaf.SerialNumber.Cmp(first.SerialNumber) != 0 {
			if !leaf.NotAfter.After(first.NotAfter) {
				t.Errorf("renewed certificate expires %v, not after the first's %v", leaf.NotAfter, first.NotAfter)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("certificate (valid until %v) not renewed within 45s\npebble:\n%s", first.NotAfter, ca.Output())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
