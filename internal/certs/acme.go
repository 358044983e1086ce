package certs

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// ACME (RFC 8555) with golang.org/x/crypto/acme/autocert: certificates
// are obtained on first use (or by Obtain at start-up), kept in a cache
// directory, and renewed in the background before they expire (30 days,
// or a third of their lifetime, before). The CA proves control of a name
// with TLS-ALPN-01 (RFC 8737: a TLS connection to port 443 served by
// ALPNConfig) or HTTP-01 (RFC 8555 §8.3: port 80 served by HTTPHandler);
// autocert tries TLS-ALPN-01 first and falls back to HTTP-01 when an
// HTTPHandler runs.
//
// autocert refuses a ClientHello without SNI, which SMTP clients often
// send; Manager.GetCertificate then asks for the first hostname instead.

// LetsEncrypt is the default ACME directory.
const LetsEncrypt = autocert.DefaultACMEDirectory

// ACMEOptions configure automatic certificates.
type ACMEOptions struct {
	// Hostnames to obtain certificates for; the first also serves
	// ClientHellos without SNI when no file pair is configured.
	Hostnames []string
	// Email is the contact address given to the CA (optional).
	Email string
	// DirectoryURL is the CA's ACME directory; "" means Let's Encrypt.
	DirectoryURL string
	// CacheDir keeps the account key and certificates across restarts
	// (mode 0700). Required: without it every restart would ask the CA
	// again and soon hit its rate limits.
	CacheDir string
	// HTTPClient talks to the CA; nil means http.DefaultClient. Tests use
	// one that trusts the test CA.
	HTTPClient *http.Client
	// RenewBefore is how long before expiry to renew; 0 means autocert's
	// default.
	RenewBefore time.Duration
}

func newAutocert(o ACMEOptions) (*autocert.Manager, error) {
	if len(o.Hostnames) == 0 {
		return nil, errors.New("certs: ACME without hostnames")
	}
	if o.CacheDir == "" {
		return nil, errors.New("certs: ACME needs a cache directory")
	}
	if err := os.MkdirAll(o.CacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("certs: ACME cache: %w", err)
	}
	hosts := make([]string, len(o.Hostnames))
	for i, h := range o.Hostnames {
		hosts[i] = strings.ToLower(strings.TrimSuffix(h, "."))
	}
	dir := o.DirectoryURL
	if dir == "" {
		dir = LetsEncrypt
	}
	return &autocert.Manager{
		Prompt:      autocert.AcceptTOS,
		Cache:       autocert.DirCache(o.CacheDir),
		HostPolicy:  autocert.HostWhitelist(hosts...),
		Email:       o.Email,
		RenewBefore: o.RenewBefore,
		Client:      &acme.Client{DirectoryURL: dir, HTTPClient: o.HTTPClient},
	}, nil
}

// HTTPHandler answers HTTP-01 challenges (serve it on port 80) and gives
// 404 for everything else. It also enables HTTP-01 as a fallback. Nil
// without ACME.
func (m *Manager) HTTPHandler() http.Handler {
	if m.acme == nil {
		return nil
	}
	h := m.acme.HTTPHandler(http.NotFoundHandler())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// autocert checks the Host header, port included, against the
		// host names; a CA may send "name:80" (or another port in tests).
		if host, _, err := net.SplitHostPort(r.Host); err == nil {
			r.Host = host
		}
		h.ServeHTTP(w, r)
	})
}

// ALPNConfig is the TLS configuration of a TLS-ALPN-01 challenge listener
// (port 443): it only completes handshakes that ask for "acme-tls/1". Nil
// without ACME.
func (m *Manager) ALPNConfig() *tls.Config {
	if m.acme == nil {
		return nil
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{acme.ALPNProto},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if len(hello.SupportedProtos) != 1 || hello.SupportedProtos[0] != acme.ALPNProto {
				return nil, errors.New("certs: only ACME TLS-ALPN-01 is served here")
			}
			return m.acme.GetCertificate(hello)
		},
	}
}

// ServeALPN answers TLS-ALPN-01 challenges on l (port 443) until l is
// closed: each connection is a handshake whose certificate is the answer.
func (m *Manager) ServeALPN(l net.Listener) {
	tl := tls.NewListener(l, m.ALPNConfig())
	for {
		c, err := tl.Accept()
		if err != nil {
			return
		}
		go func() {
			c.SetDeadline(time.Now().Add(10 * time.Second))
			c.(*tls.Conn).Handshake()
			c.Close()
		}()
	}
}

// Obtain makes sure every ACME hostname has a valid certificate, asking
// the CA for those that are missing, so the first client does not wait
// for issuance. It returns the first failure; renewal then keeps going in
// the background.
func (m *Manager) Obtain(ctx context.Context) error {
	if m.acme == nil {
		return nil
	}
	var first error
	for _, h := range m.opts.ACME.Hostnames {
		done := make(chan error, 1)
		go func() {
			// An ECDSA-capable hello: the certificate modern clients get.
			_, err := m.acme.GetCertificate(&tls.ClientHelloInfo{ServerName: h,
				CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}})
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil && first == nil {
				first = fmt.Errorf("ACME certificate for %s: %w", h, err)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return first
}
