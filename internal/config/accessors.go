package config

import (
	"crypto/tls"
	"log/slog"
)

var tlsVersions = map[string]uint16{
	"1.2": tls.VersionTLS12,
	"1.3": tls.VersionTLS13,
}

var logLevels = map[string]slog.Level{
	"debug": slog.LevelDebug,
	"info":  slog.LevelInfo,
	"warn":  slog.LevelWarn,
	"error": slog.LevelError,
}

// Enabled reports whether a certificate is configured: files or ACME.
func (t TLS) Enabled() bool { return t.CertFile != "" && t.KeyFile != "" || len(t.ACME.Hostnames) > 0 }

// MinTLSVersion returns min_version as a crypto/tls constant, TLS 1.2 when
// it is not valid (Validate reports that).
func (t TLS) MinTLSVersion() uint16 {
	if v, ok := tlsVersions[t.MinVersion]; ok {
		return v
	}
	return tls.VersionTLS12
}

// SlogLevel returns level as a slog.Level, info when it is not valid
// (Validate reports that).
func (l Log) SlogLevel() slog.Level {
	if v, ok := logLevels[l.Level]; ok {
		return v
	}
	return slog.LevelInfo
}
