package imapserver

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/posthorn/posthorn/internal/connserver"
	"github.com/posthorn/posthorn/internal/store"
)

// Server is one IMAP listener role (143 with STARTTLS, or 993 with
// implicit TLS). Many Servers can run in one process; each may Serve
// several listeners.
type Server struct {
	opts  Options
	store store.Store
	auth  Authenticator
	log   *slog.Logger
	// idleTimeout is Options.IdleTimeout; tests lower it below the RFC
	// minimum.
	idleTimeout time.Duration

	// ctx is passed to auth calls; it is cancelled when Shutdown gives up
	// waiting. readCtx is ctx without its cancellation, for store calls:
	// database/sql starts a goroutine per query to watch a cancellable
	// context, and a command is short.
	ctx     context.Context
	cancel  context.CancelFunc
	readCtx context.Context

	// conns holds the listeners and sessions, and their limits.
	conns *connserver.Server[*session, int64]
}

// New returns a Server over st that checks logins with a. It does not
// listen: call Serve.
func New(opts Options, st store.Store, a Authenticator) *Server {
	opts = opts.withDefaults()
	s := &Server{
		opts:        opts,
		store:       st,
		auth:        a,
		log:         opts.Logger,
		idleTimeout: opts.IdleTimeout,
	}
	s.conns = &connserver.Server[*session, int64]{
		Limits: connserver.Limits{
			Total:      opts.MaxConnections,
			PerIP:      opts.MaxConnectionsPerIP,
			PerAccount: opts.MaxConnectionsPerAccount,
		},
		Log:         opts.Logger,
		Conns:       opts.Conns,
		Name:        "imap",
		Refusal:     "* BYE [UNAVAILABLE] Too many connections, try again later\r\n",
		ImplicitTLS: opts.ImplicitTLS,
		Drain:       (*session).drain,
		Kill:        func(sess *session) { sess.raw.Close() },
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.readCtx = context.WithoutCancel(s.ctx)
	return s
}

// ErrServerClosed is returned by Serve when called after Shutdown.
var ErrServerClosed = errors.New("imapserver: server closed")

// Serve accepts connections on l until Shutdown, and then returns nil.
func (s *Server) Serve(l net.Listener) error {
	if s.opts.ImplicitTLS && s.opts.TLSConfig == nil {
		return errors.New("imapserver: ImplicitTLS without TLSConfig")
	}
	err := s.conns.Serve(l, func(nc net.Conn, ip netip.Addr) *session { return newSession(s, nc, ip) }, (*session).serve)
	if errors.Is(err, connserver.ErrClosed) {
		return ErrServerClosed
	}
	return err
}

// Shutdown stops accepting connections and ends the sessions: a session
// waiting for a command or in IDLE is sent "* BYE" and closed at once; a
// session in the middle of a command finishes it first (an APPEND being
// stored gets its tagged answer). When ctx ends first, every connection
// is closed and Shutdown returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.conns.Shutdown(ctx, s.cancel)
}
