package pop3server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"

	"github.com/posthorn/posthorn/internal/connserver"
	"github.com/posthorn/posthorn/internal/store"
)

// Server is one POP3 listener role (110 with STLS, or 995 with implicit
// TLS). Many Servers can run in one process; each may Serve several
// listeners. Servers of one process share maildrop locks through
// Options.Maildrops.
type Server struct {
	opts  Options
	store store.Store
	auth  Authenticator
	log   *slog.Logger
	drops *Maildrops

	// ctx is passed to store and auth calls; it is cancelled when
	// Shutdown gives up waiting. readCtx is ctx without its cancellation,
	// for reading one message body: a short read, and database/sql and the
	// SQLite driver each start a goroutine per query to watch a
	// cancellable context.
	ctx     context.Context
	cancel  context.CancelFunc
	readCtx context.Context

	// conns holds the listeners and sessions, and their limits.
	conns *connserver.Server[*session, string]
}

// New returns a Server over st that checks logins with a. It does not
// listen: call Serve.
func New(opts Options, st store.Store, a Authenticator) *Server {
	opts = opts.withDefaults()
	s := &Server{
		opts:  opts,
		store: st,
		auth:  a,
		log:   opts.Logger,
		drops: opts.Maildrops,
	}
	s.conns = &connserver.Server[*session, string]{
		Limits: connserver.Limits{
			Total:      opts.MaxConnections,
			PerIP:      opts.MaxConnectionsPerIP,
			PerAccount: opts.MaxConnectionsPerAccount,
		},
		Log:         opts.Logger,
		Conns:       opts.Conns,
		Name:        "pop3",
		Refusal:     "-ERR [SYS/TEMP] Too many connections, try again later\r\n",
		ImplicitTLS: opts.ImplicitTLS,
		Drain:       (*session).drain,
		Kill:        func(sess *session) { sess.raw.Close() },
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.readCtx = context.WithoutCancel(s.ctx)
	return s
}

// ErrServerClosed is returned by Serve when called after Shutdown.
var ErrServerClosed = errors.New("pop3server: server closed")

// Serve accepts connections on l until Shutdown, and then returns nil.
func (s *Server) Serve(l net.Listener) error {
	if s.opts.ImplicitTLS && s.opts.TLSConfig == nil {
		return errors.New("pop3server: ImplicitTLS without TLSConfig")
	}
	err := s.conns.Serve(l, func(nc net.Conn, ip netip.Addr) *session { return newSession(s, nc, ip) }, (*session).serve)
	if errors.Is(err, connserver.ErrClosed) {
		return ErrServerClosed
	}
	return err
}

// Shutdown stops accepting connections and ends the sessions: an idle
// session is answered "-ERR [SYS/TEMP]" and closed at once, without
// entering the UPDATE state, so nothing it marked is deleted (RFC 1939
// §6); a session in the middle of a command (a RETR being sent, the
// deletions of a QUIT) finishes that command first. When ctx ends first,
// every connection is closed and Shutdown returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.conns.Shutdown(ctx, s.cancel)
}
