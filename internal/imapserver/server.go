package imapserver

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

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

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	sessions  map[*session]struct{}
	perIP     map[netip.Addr]int
	perAcct   map[int64]int
	draining  bool
	wg        sync.WaitGroup // sessions
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
		listeners:   make(map[net.Listener]struct{}),
		sessions:    make(map[*session]struct{}),
		perIP:       make(map[netip.Addr]int),
		perAcct:     make(map[int64]int),
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
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()

	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.isDraining() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Temporary (EMFILE and the like): back off as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("imap accept", "err", err, "retry_in", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		if sess := s.admit(nc); sess != nil {
			go sess.serve()
		}
	}
}

// admit registers a session for nc, or refuses nc with a BYE greeting
// (RFC 9051 §7.1.5) when a limit is reached or the server is shutting
// down.
func (s *Server) admit(nc net.Conn) *session {
	ip := remoteIP(nc.RemoteAddr())
	s.mu.Lock()
	over := s.draining ||
		(s.opts.MaxConnections > 0 && len(s.sessions) >= s.opts.MaxConnections) ||
		(s.opts.MaxConnectionsPerIP > 0 && s.perIP[ip] >= s.opts.MaxConnectionsPerIP)
	if over {
		s.mu.Unlock()
		s.log.Debug("connection refused: too many connections", "client", ip)
		if !s.opts.ImplicitTLS {
			// A fresh socket's send buffer is empty: this write does not
			// block, but bound it anyway.
			nc.SetWriteDeadline(time.Now().Add(time.Second))
			io.WriteString(nc, "* BYE [UNAVAILABLE] Too many connections, try again later\r\n")
		}
		nc.Close()
		return nil
	}
	sess := newSession(s, nc, ip)
	s.sessions[sess] = struct{}{}
	s.perIP[ip]++
	s.wg.Add(1)
	s.mu.Unlock()
	return sess
}

// release forgets a finished session.
func (s *Server) release(sess *session) {
	s.mu.Lock()
	delete(s.sessions, sess)
	if n := s.perIP[sess.ip] - 1; n > 0 {
		s.perIP[sess.ip] = n
	} else {
		delete(s.perIP, sess.ip)
	}
	s.mu.Unlock()
	s.wg.Done()
}

// claimAccount counts a logged-in session against the per-account limit
// and reports false when the limit is reached.
func (s *Server) claimAccount(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.MaxConnectionsPerAccount > 0 && s.perAcct[id] >= s.opts.MaxConnectionsPerAccount {
		return false
	}
	s.perAcct[id]++
	return true
}

func (s *Server) releaseAccount(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.perAcct[id] - 1; n > 0 {
		s.perAcct[id] = n
	} else {
		delete(s.perAcct, id)
	}
}

func (s *Server) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}

// Shutdown stops accepting connections and ends the sessions: a session
// waiting for a command or in IDLE is sent "* BYE" and closed at once; a
// session in the middle of a command finishes it first (an APPEND being
// stored gets its tagged answer). When ctx ends first, every connection
// is closed and Shutdown returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	for l := range s.listeners {
		l.Close()
	}
	sessions := make([]*session, 0, len(s.sessions))
	for sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()
	for _, sess := range sessions {
		sess.drain()
	}

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
	}
	s.cancel()
	s.mu.Lock()
	for sess := range s.sessions {
		sess.raw.Close()
	}
	s.mu.Unlock()
	<-done
	return ctx.Err()
}

func remoteIP(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return netip.Addr{} // pipes, unix sockets: one bucket
}

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// newID returns a random 13-character connection id (64 bits).
func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}
