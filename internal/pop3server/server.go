package pop3server

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
	// Shutdown gives up waiting.
	ctx    context.Context
	cancel context.CancelFunc
	// readCtx is ctx without its cancellation, for reading one message
	// body: a short read, and database/sql and the SQLite driver each
	// start a goroutine per query to watch a cancellable context.
	readCtx context.Context

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	sessions  map[*session]struct{}
	perIP     map[netip.Addr]int
	perAcct   map[string]int
	draining  bool
	wg        sync.WaitGroup // sessions
}

// New returns a Server that serves the INBOXes of st and checks logins
// with a. It does not listen: call Serve.
func New(opts Options, st store.Store, a Authenticator) *Server {
	opts = opts.withDefaults()
	s := &Server{
		opts:      opts,
		store:     st,
		auth:      a,
		log:       opts.Logger,
		drops:     opts.Maildrops,
		listeners: make(map[net.Listener]struct{}),
		sessions:  make(map[*session]struct{}),
		perIP:     make(map[netip.Addr]int),
		perAcct:   make(map[string]int),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.readCtx = context.WithoutCancel(s.ctx)
	return s
}

// ErrServerClosed is returned by Serve when called after Shutdown.
var ErrServerClosed = errors.New("pop3server: server closed")

// Serve accepts connections on l until Shutdown, and then returns nil. The
// caller creates l, so the address is known before Serve is called.
func (s *Server) Serve(l net.Listener) error {
	if s.opts.ImplicitTLS && s.opts.TLSConfig == nil {
		return errors.New("pop3server: ImplicitTLS without TLSConfig")
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
				s.log.Warn("pop3 accept", "err", err, "retry_in", delay)
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

// admit registers a session for nc, or refuses nc when a limit is reached
// or the server is shutting down.
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
			io.WriteString(nc, "-ERR [SYS/TEMP] Too many connections, try again later\r\n")
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

// claimAccount counts a session against the per-account limit for key (a
// login name in lower case) and reports false when the limit is reached.
func (s *Server) claimAccount(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.MaxConnectionsPerAccount > 0 && s.perAcct[key] >= s.opts.MaxConnectionsPerAccount {
		return false
	}
	s.perAcct[key]++
	return true
}

func (s *Server) releaseAccount(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.perAcct[key] - 1; n > 0 {
		s.perAcct[key] = n
	} else {
		delete(s.perAcct, key)
	}
}

func (s *Server) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}

// Shutdown stops accepting connections and ends the sessions: an idle
// session is answered "-ERR [SYS/TEMP]" and closed at once, without
// entering the UPDATE state, so nothing it marked is deleted (RFC 1939
// §6); a session in the middle of a command (a RETR being sent, the
// deletions of a QUIT) finishes that command first. When ctx ends first,
// every connection is closed and Shutdown returns ctx's error.
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
