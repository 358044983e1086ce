package pop3server

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
	// TLSConfig enables STLS (RFC 2595); nil means no STLS.
	TLSConfig *tls.Config
	// ImplicitTLS makes every connection start with a TLS handshake
	// (RFC 8314, port 995). Requires TLSConfig.
	ImplicitTLS bool
	// AllowPlaintextAuth allows USER/PASS and AUTH without TLS, but only
	// from a loopback client address (for local tools and tests).
	AllowPlaintextAuth bool

	// MaxConnections caps concurrent connections (default 1000).
	MaxConnections int
	// MaxConnectionsPerIP caps concurrent connections per client IP
	// (default 50).
	MaxConnectionsPerIP int
	// MaxConnectionsPerAccount caps concurrent connections that named or
	// logged in to one account (default 10). Only one of them can hold
	// the maildrop at a time.
	MaxConnectionsPerAccount int
	// IdleTimeout is the autologout timer: how long the server waits for
	// a command (default 10 min, the RFC 1939 §3 minimum).
	IdleTimeout time.Duration
	// MaxLineLength caps a command line, CRLF included (default 2048;
	// values under 512 are raised to 512, twice RFC 2449 §4's 255 octets,
	// since AUTH responses run longer, RFC 5034 §4).
	MaxLineLength int

	// MaildropLease is how long a maildrop lock in the store outlives a
	// session that stops renewing it (default 1 min): the session renews
	// it every third of this, and after a crash another node's login is
	// refused with [IN-USE] for at most this long. Values under
	// MinMaildropLease are raised to it.
	MaildropLease time.Duration

	// Maildrops is the process-wide maildrop state (the size cache)
	// shared by every POP3 server of the process. Nil gives the server
	// its own.
	Maildrops *Maildrops

	// Logger receives one line per session and internal errors. Nil
	// discards.
	Logger *slog.Logger
	// Conns counts connections; nil counts nothing.
	Conns *metrics.Conns
}

// Defaults for zero Options fields.
const (
	DefaultMaxConnections           = 1000
	DefaultMaxConnectionsPerIP      = 50
	DefaultMaxConnectionsPerAccount = 10
	DefaultIdleTimeout              = 10 * time.Minute
	DefaultMaxLineLength            = 2048
	MinMaxLineLength                = 512
	DefaultMaildropLease            = time.Minute
	MinMaildropLease                = 30 * time.Millisecond
)

// maxBadCommands is how many unknown or malformed commands end a session.
const maxBadCommands = 10

// maxAuthFailures is how many failed logins end a session.
const maxAuthFailures = 3

// lingerTimeout bounds the wait for the client's last input after a
// protocol error (see lingerClose).
const lingerTimeout = 500 * time.Millisecond

// retrBufferSize is the write buffer of a logged-in session; before login
// replies are short and 4 KiB do.
const retrBufferSize = 32 << 10

// handshakeTimeout bounds a TLS handshake (implicit TLS or after STLS).
const handshakeTimeout = time.Minute

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
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxLineLength == 0 {
		o.MaxLineLength = DefaultMaxLineLength
	}
	if o.MaxLineLength < MinMaxLineLength {
		o.MaxLineLength = MinMaxLineLength
	}
	if o.MaildropLease == 0 {
		o.MaildropLease = DefaultMaildropLease
	}
	o.MaildropLease = max(o.MaildropLease, MinMaildropLease)
	if o.Maildrops == nil {
		o.Maildrops = NewMaildrops()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
