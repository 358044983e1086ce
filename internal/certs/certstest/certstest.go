// Package certstest makes throw-away TLS configurations for tests of the
// servers: a fresh self-signed certificate and a client that trusts it, or
// a test CA that issues certificates (ca.go).
package certstest

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"

	"github.com/posthorn/posthorn/internal/certs"
)

// SelfSigned returns a server TLS config with a fresh self-signed
// certificate for name, and a client config that trusts exactly it.
func SelfSigned(t testing.TB, name string) (server, client *tls.Config) {
	t.Helper()
	cert := SelfSignedCert(t, name)
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	server = &tls.Config{Certificates: []tls.Certificate{cert}}
	client = &tls.Config{RootCAs: pool, ServerName: name}
	return server, client
}

// Dev is certs.EnsureDev for tests: a development CA under dir and a
// certificate it issued for names and ips; an error fails the test.
func Dev(t testing.TB, dir string, names []string, ips ...net.IP) certs.DevFiles {
	t.Helper()
	f, err := certs.EnsureDev(dir, names, ips)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
