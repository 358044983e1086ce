package imapserver

import (
	"crypto/tls"
	"log/slog"
	"time"

	"github.com/posthorn/posthorn/internal/metrics"
)

// Options configure a Server. Zero values mean the defaults below; for the
// connection limits, a negative value means "no limit".
type Options struct {
	// Hostname is our name in the greeting.
	Hostname string
	// TLSConfig enables STARTTLS (RFC 9051 §6.2.1); nil means no STARTTLS.
	TLSConfig *tls.Config
	// ImplicitTLS makes every connection start with a TLS handshake
	// (RFC 8314, port 993). Requires TLSConfig.
	ImplicitTLS bool
	// AllowPlaintextAuth allows LOGIN and AUTHENTICATE without TLS, but
	// only from a loopback client address (for local tools and tests).
	AllowPlaintextAuth bool

	// MaxConnections caps concurrent connections (default 1000).
	MaxConnections int
	// MaxConnectionsPerIP caps concurrent connections per client IP
	// (default 200: clients behind one NAT share an address).
	MaxConnectionsPerIP int
	// MaxConnectionsPerAccount caps concurrent logged-in sessions of one
	// account (default 50: every folder of a desktop client may hold one).
	MaxConnectionsPerAccount int
	// IdleTimeout is the autologout timer (default and minimum 30 min,
	// RFC 9051 §5.4), IDLE included. Tests may set less through
	// testIdleTimeout.
	IdleTimeout time.Duration
	// MaxLineLength caps a command line outside literals (default 64 KiB,
	// as Dovecot; values under 8 KiB are raised to 8 KiB, RFC 7162 §4
	// asks clients to keep lines under 8192 octets).
	MaxLineLength int
	// MaxMessageSize caps an APPENDed message and is advertised as
	// APPENDLIMIT (RFC 7889) (default 50 MiB, the SMTP default).
	MaxMessageSize int64
	// MaxErrors is how many BAD answers end a session with BYE (default 20).
	MaxErrors int

	// Logger receives one line per session and internal errors. Nil
	// discards.
	Logger *slog.Logger
	// Conns counts connections; nil counts nothing.
	Conns *metrics.Conns
}

// Defaults for zero Options fields.
const (
	DefaultMaxConnections           = 1000
	DefaultMaxConnectionsPerIP      = 200
	DefaultMaxConnectionsPerAccount = 50
	DefaultIdleTimeout              = 30 * time.Minute
	DefaultMaxLineLength            = 64 << 10
	MinMaxLineLength                = 8 << 10
	DefaultMaxMessageSize           = 50 << 20
	DefaultMaxErrors                = 20
)

// maxAuthFailures is how many failed logins end a session.
const maxAuthFailures = 3

// maxLiteral caps literals other than APPEND messages (a mailbox name, a
// SEARCH string, a password).
const maxLiteral = 64 << 10

// handshakeTimeout bounds a TLS handshake (implicit TLS or after STARTTLS).
const handshakeTimeout = time.Minute

// lingerTimeout bounds the wait for the client's last input after a
// protocol error (see lingerClose).
const lingerTimeout = 500 * time.Millisecond

func (o Options) withDefaults() Options {
	if o.Hostname == "" {
		o.Hostname = "localhost"
	}
	if o.MaxConnections == 0 {
		o.MaxConnections = DefaultMaxConnections
	}
	if o.MaxConnectionsPerIP == 0 {
		o.MaxConnectionsPerIP = DefaultMaxConnectionsPerIP
	}
	if o.MaxConnectionsPerAccount == 0 {
		o.MaxConnectionsPerAccount = DefaultMaxConnectionsPerAccount
	}
	if o.IdleTimeout < DefaultIdleTimeout {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxLineLength == 0 {
		o.MaxLineLength = DefaultMaxLineLength
	}
	if o.MaxLineLength < MinMaxLineLength {
		o.MaxLineLength = MinMaxLineLength
	}
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	if o.MaxErrors <= 0 {
		o.MaxErrors = DefaultMaxErrors
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
