package smtpserver

import (
	"crypto/tls"
	"log/slog"
	"time"

	"github.com/posthorn/posthorn/internal/metrics"
)

// Options configure a Server. Zero values mean the defaults below; for the
// connection limits, a negative value means "no limit".
type Options struct {
	// Hostname is our name in the greeting, EHLO reply and 421 replies.
	Hostname string
	// TLSConfig enables STARTTLS (RFC 3207); nil means no STARTTLS.
	TLSConfig *tls.Config
	// ImplicitTLS makes every connection start with a TLS handshake
	// (RFC 8314, port 465). Requires TLSConfig.
	ImplicitTLS bool

	// MaxLineLength caps a command line and a message text line, CRLF
	// included (default 2000; values under 1000 are raised to 1000, the
	// RFC 5321 §4.5.3.1.6 text line limit). An overlong line ends the
	// session: see the package doc.
	MaxLineLength int
	// MaxMessageBytes caps the message size, advertised as SIZE (RFC 1870).
	// Default 25 MiB.
	MaxMessageBytes int64
	// MaxRecipients caps RCPT per transaction, advertised as LIMITS RCPTMAX
	// (RFC 9422). Default 100, the RFC 5321 §4.5.3.1.8 minimum.
	MaxRecipients int
	// MaxConnections caps concurrent connections (default 1000).
	MaxConnections int
	// MaxConnectionsPerIP caps concurrent connections per client IP
	// (default 100).
	MaxConnectionsPerIP int
	// MaxConnectionsPerNet caps concurrent connections per /24 (IPv4) or
	// /64 (IPv6) network (default 200).
	MaxConnectionsPerNet int
	// ConnectionRatePerIP caps new connections per minute from one client
	// IP (a token bucket: that many at once, then one every
	// minute/rate). 0 means no limit.
	ConnectionRatePerIP int
	// ConnectionRatePerNet caps new connections per minute from one /24 or
	// /64 network. 0 means no limit.
	ConnectionRatePerNet int

	// CommandTimeout bounds the wait for each command (default 5 min,
	// RFC 5321 §4.5.3.2.7).
	CommandTimeout time.Duration
	// DataBlockTimeout bounds each read of message data (default 3 min,
	// RFC 5321 §4.5.3.2.5).
	DataBlockTimeout time.Duration
	// DataTotalTimeout bounds the whole transfer of one message's data
	// (default 10 min, RFC 5321 §4.5.3.2.6).
	DataTotalTimeout time.Duration

	// MaxErrors is how many failed commands (rejected by the policy) a
	// session may make before it is answered 421 and closed (default 10).
	// Failed AUTH attempts count too.
	MaxErrors int
	// Authenticator enables AUTH (RFC 4954) with the mechanisms it lists
	// (package auth lists none outside TLS). A backend Session that
	// implements AuthSession learns who logged in. Nil: no AUTH.
	Authenticator Authenticator
	// RequireAuth refuses MAIL before a successful AUTH (submission, RFC
	// 6409 §4.3): "530 5.7.0 Must issue a STARTTLS command first" in plain
	// text when STARTTLS is offered (RFC 3207 §4), else "530 5.7.0
	// Authentication required" (RFC 4954 §6).
	RequireAuth bool

	// Logger receives one line per transaction and internal errors.
	// Nil discards.
	Logger *slog.Logger
	// Conns counts connections (accepted, refused, open) and Received
	// the transactions by result; nil counts nothing.
	Conns    *metrics.Conns
	Received *metrics.Received
}

// Defaults for zero Options fields.
const (
	DefaultMaxLineLength        = 2000
	MinMaxLineLength            = 1000
	DefaultMaxMessageBytes      = 25 << 20
	DefaultMaxRecipients        = 100
	DefaultMaxConnections       = 1000
	DefaultMaxConnectionsPerIP  = 100
	DefaultMaxConnectionsPerNet = 200
	DefaultCommandTimeout       = 5 * time.Minute
	DefaultDataBlockTimeout     = 3 * time.Minute
	DefaultDataTotalTimeout     = 10 * time.Minute
	DefaultMaxErrors            = 10
)

func (o Options) withDefaults() Options {
	if o.Hostname == "" {
		o.Hostname = "localhost"
	}
	if o.MaxLineLength == 0 {
		o.MaxLineLength = DefaultMaxLineLength
	}
	if o.MaxLineLength < MinMaxLineLength {
		o.MaxLineLength = MinMaxLineLength
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if o.MaxRecipients <= 0 {
		o.MaxRecipients = DefaultMaxRecipients
	}
	if o.MaxConnections == 0 {
		o.MaxConnections = DefaultMaxConnections
	}
	if o.MaxConnectionsPerIP == 0 {
		o.MaxConnectionsPerIP = DefaultMaxConnectionsPerIP
	}
	if o.MaxConnectionsPerNet == 0 {
		o.MaxConnectionsPerNet = DefaultMaxConnectionsPerNet
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = DefaultCommandTimeout
	}
	if o.DataBlockTimeout <= 0 {
		o.DataBlockTimeout = DefaultDataBlockTimeout
	}
	if o.DataTotalTimeout <= 0 {
		o.DataTotalTimeout = DefaultDataTotalTimeout
	}
	if o.MaxErrors <= 0 {
		o.MaxErrors = DefaultMaxErrors
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
