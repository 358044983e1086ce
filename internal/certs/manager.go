package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme/autocert"
)

// Pair is a certificate chain (leaf first) and its private key, in PEM
// files.
type Pair struct {
	CertFile, KeyFile string
}

// Options configure a Manager.
type Options struct {
	// Pairs are certificates from files. Each serves the DNS names it
	// lists (SNI, RFC 6066 §3), wildcards included. The first is also
	// served to ClientHellos without a name or with an unknown one, unless
	// ACME is set.
	Pairs []Pair
	// ACME obtains and renews certificates from an ACME CA (RFC 8555);
	// nil for none.
	ACME *ACMEOptions
	// MinVersion is "1.2" or "1.3" ("" means 1.2).
	MinVersion string
	// Logger receives reloads and ACME failures. Nil discards.
	Logger *slog.Logger
}

// Manager hands out the server certificate for every TLS listener: from
// files, reloaded when they change or on Reload (SIGHUP), chosen by SNI;
// and from ACME. It is safe for concurrent use.
type Manager struct {
	opts Options
	min  uint16
	log  *slog.Logger
	acme *autocert.Manager // nil without ACME

	mu       sync.RWMutex
	files    []fileState
	byName   map[string]*tls.Certificate // lower-case DNS name or "*.domain"
	fallback *tls.Certificate
}

// fileState is a loaded pair and what its files looked like then.
type fileState struct {
	pair  Pair
	stamp string // size and modification time of both files
	cert  *tls.Certificate
}

// New loads the pairs and sets up ACME. A pair that does not load is an
// error.
func New(opts Options) (*Manager, error) {
	min, err := ParseVersion(opts.MinVersion)
	if err != nil {
		return nil, err
	}
	if len(opts.Pairs) == 0 && opts.ACME == nil {
		return nil, errors.New("certs: no certificate files and no ACME")
	}
	m := &Manager{opts: opts, min: min, log: opts.Logger}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if opts.ACME != nil {
		if m.acme, err = newAutocert(*opts.ACME); err != nil {
			return nil, err
		}
	}
	if err := m.Reload(); err != nil {
		return nil, err
	}
	return m, nil
}

// ServerConfig is the TLS configuration of a mail listener: TLS 1.2 or
// newer (RFC 8996, RFC 8314 §4.1) with Go's default cipher suites (AEAD
// with forward secrecy), certificates from the Manager.
func (m *Manager) ServerConfig() *tls.Config {
	return &tls.Config{MinVersion: m.min, GetCertificate: m.GetCertificate}
}

// Reload reads every pair again. When one fails, the certificates in use
// stay and the error says which file failed.
func (m *Manager) Reload() error {
	files := make([]fileState, 0, len(m.opts.Pairs))
	for _, p := range m.opts.Pairs {
		stamp := fileStamp(p)
		c, err := Load(p.CertFile, p.KeyFile)
		if err != nil {
			return err
		}
		if c.Leaf == nil {
			if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
				return fmt.Errorf("certificate %s: %w", p.CertFile, err)
			}
		}
		files = append(files, fileState{pair: p, stamp: stamp, cert: &c})
	}
	byName := map[string]*tls.Certificate{}
	// Earlier pairs win a name both list.
	for i := len(files) - 1; i >= 0; i-- {
		c := files[i].cert
		for _, n := range c.Leaf.DNSNames {
			byName[strings.ToLower(strings.TrimSuffix(n, "."))] = c
		}
	}
	m.mu.Lock()
	m.files, m.byName = files, byName
	m.fallback = nil
	if len(files) > 0 {
		m.fallback = files[0].cert
	}
	m.mu.Unlock()
	return nil
}

// fileStamp is what Watch compares: size and modification time of both
// files ("" when one cannot be read).
func fileStamp(p Pair) string {
	var b strings.Builder
	for _, f := range []string{p.CertFile, p.KeyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return ""
		}
		fmt.Fprintf(&b, "%d@%d;", fi.Size(), fi.ModTime().UnixNano())
	}
	return b.String()
}

// changed reports whether any file differs from when it was loaded.
func (m *Manager) changed() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, f := range m.files {
		if s := fileStamp(f.pair); s != f.stamp && s != "" {
			return true
		}
	}
	return false
}

// Watch checks the files every interval until ctx ends and reloads them
// when one changed (as certbot and other renewers replace them). A
// failed reload is logged and the old certificates stay.
func (m *Manager) Watch(ctx context.Context, interval time.Duration) {
	if len(m.opts.Pairs) == 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !m.changed() {
			continue
		}
		if err := m.Reload(); err != nil {
			m.log.Error("tls: certificate files changed but do not load; keeping the old ones", "err", err)
			continue
		}
		m.log.Info("tls: certificate files reloaded")
	}
}

// GetCertificate implements tls.Config.GetCertificate: a file certificate
// for the SNI name (exact, then wildcard), else ACME for its hostnames,
// else the fallback. ClientHellos without SNI (common among SMTP clients)
// get the fallback: the first file pair, or ACME's first hostname.
func (m *Manager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	m.mu.RLock()
	c := m.byName[name]
	if c == nil && name != "" {
		if i := strings.IndexByte(name, '.'); i > 0 {
			c = m.byName["*"+name[i:]]
		}
	}
	fallback := m.fallback
	m.mu.RUnlock()
	if c != nil {
		return c, nil
	}
	if m.acme != nil {
		if name != "" && m.isACMEHost(name) {
			return m.acme.GetCertificate(hello)
		}
		if fallback == nil {
			h := *hello
			h.ServerName = m.opts.ACME.Hostnames[0]
			return m.acme.GetCertificate(&h)
		}
	}
	if fallback == nil {
		return nil, fmt.Errorf("certs: no certificate for %q", name)
	}
	return fallback, nil
}

func (m *Manager) isACMEHost(name string) bool {
	for _, h := range m.opts.ACME.Hostnames {
		if strings.EqualFold(h, name) {
			return true
		}
	}
	return false
}
