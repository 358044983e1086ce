// Package certs provides the TLS certificates shared by every listener:
// key pairs loaded from files, and a generated development CA with a server
// certificate for dev mode; the Manager (manager.go) serves them by SNI,
// reloads changed files, and obtains certificates with ACME (acme.go).
package certs

import (
	"crypto/tls"
	"fmt"
)

// ServerConfig returns a server TLS configuration with the given minimum
// version ("1.2" or "1.3") serving cert. Go's default cipher suites are
// modern (AEAD with forward secrecy for TLS 1.2) and are kept.
func ServerConfig(cert tls.Certificate, minVersion string) (*tls.Config, error) {
	v, err := ParseVersion(minVersion)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   v,
	}, nil
}

// ParseVersion maps "1.2"/"1.3" ("" means 1.2) to a tls version constant.
func ParseVersion(s string) (uint16, error) {
	switch s {
	case "", "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("TLS minimum version %q: use \"1.2\" or \"1.3\"", s)
}

// Load reads a PEM certificate chain and key.
func Load(certFile, keyFile string) (tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("loading TLS key pair %s, %s: %w", certFile, keyFile, err)
	}
	return c, nil
}
