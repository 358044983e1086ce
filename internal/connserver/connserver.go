// Package connserver is the connection bookkeeping that posthorn's own
// line-protocol servers (pop3server, imapserver) share: the accept loop
// with back-off, the limits on connections in all, per client IP and per
// logged-in account, and graceful shutdown. The protocol packages keep
// what differs: the refusal line, how a session is drained, and the
// session itself.
package connserver

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

	"github.com/posthorn/posthorn/internal/metrics"
)

// Limits bound the connections of one Server; 0 means no limit.
type Limits struct {
	Total, PerIP, PerAccount int
}

// Server tracks the sessions S of one protocol server, and their accounts
// A (for the per-account limit). Set the fields, then call Serve; the
// zero value of the maps is made on first use.
type Server[S comparable, A comparable] struct {
	Limits Limits
	Log    *slog.Logger
	// Name prefixes log messages ("imap", "pop3").
	Name string
	// Refusal is written to a plaintext connection refused over a limit
	// or during shutdown (CRLF included); implicit-TLS connections are
	// just closed, as nothing can be said before the handshake.
	Refusal     string
	ImplicitTLS bool
	// Drain asks an idle session to end (Shutdown); Kill closes its
	// connection (Shutdown after its context ended).
	Drain, Kill func(S)
	// Conns counts connections admitted, refused and open; nil counts
	// nothing.
	Conns *metrics.Conns

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	sessions  map[S]netip.Addr
	perIP     map[netip.Addr]int
	perAcct   map[A]int
	draining  bool
	wg        sync.WaitGroup
}

// ErrClosed is returned by Serve when called after Shutdown.
var ErrClosed = errors.New("server closed")

// Serve accepts connections on l until Shutdown, and then returns nil.
// For each admitted connection it calls start, and runs run(session) in a
// goroutine, which must call Release when the session ends.
func (t *Server[S, A]) Serve(l net.Listener, start func(nc net.Conn, ip netip.Addr) S, run func(S)) error {
	t.mu.Lock()
	if t.draining {
		t.mu.Unlock()
		return ErrClosed
	}
	if t.listeners == nil {
		t.listeners = make(map[net.Listener]struct{})
	}
	t.listeners[l] = struct{}{}
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		delete(t.listeners, l)
		t.mu.Unlock()
	}()

	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if t.Draining() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Temporary (EMFILE and the like): back off as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				t.Log.Warn(t.Name+" accept", "err", err, "retry_in", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		if sess, ok := t.Admit(nc, start); ok {
			go run(sess)
		}
	}
}

// Admit registers the session start makes for nc, or refuses nc when a
// limit is reached or the server is shutting down. Serve calls it; tests
// may too, with connections of their own.
func (t *Server[S, A]) Admit(nc net.Conn, start func(net.Conn, netip.Addr) S) (S, bool) {
	ip := RemoteIP(nc.RemoteAddr())
	t.mu.Lock()
	over := t.draining ||
		(t.Limits.Total > 0 && len(t.sessions) >= t.Limits.Total) ||
		(t.Limits.PerIP > 0 && t.perIP[ip] >= t.Limits.PerIP)
	if over {
		t.mu.Unlock()
		t.Conns.Refused()
		t.Log.Debug("connection refused: too many connections", "client", ip)
		if !t.ImplicitTLS {
			// A fresh socket's send buffer is empty: this write does not
			// block, but bound it anyway.
			nc.SetWriteDeadline(time.Now().Add(time.Second))
			io.WriteString(nc, t.Refusal)
		}
		nc.Close()
		var zero S
		return zero, false
	}
	sess := start(nc, ip)
	if t.sessions == nil {
		t.sessions = make(map[S]netip.Addr)
		t.perIP = make(map[netip.Addr]int)
	}
	t.sessions[sess] = ip
	t.perIP[ip]++
	t.wg.Add(1)
	t.mu.Unlock()
	t.Conns.Opened()
	return sess, true
}

// Release forgets a finished session.
func (t *Server[S, A]) Release(sess S) {
	t.mu.Lock()
	ip := t.sessions[sess]
	delete(t.sessions, sess)
	decrement(t.perIP, ip)
	t.mu.Unlock()
	t.Conns.Closed()
	t.wg.Done()
}

// ClaimAccount counts a logged-in session against the per-account limit
// and reports false when the limit is reached.
func (t *Server[S, A]) ClaimAccount(a A) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.perAcct == nil {
		t.perAcct = make(map[A]int)
	}
	if t.Limits.PerAccount > 0 && t.perAcct[a] >= t.Limits.PerAccount {
		return false
	}
	t.perAcct[a]++
	return true
}

// ReleaseAccount undoes one successful ClaimAccount.
func (t *Server[S, A]) ReleaseAccount(a A) {
	t.mu.Lock()
	defer t.mu.Unlock()
	decrement(t.perAcct, a)
}

func decrement[K comparable](m map[K]int, k K) {
	if n := m[k] - 1; n > 0 {
		m[k] = n
	} else {
		delete(m, k)
	}
}

// Draining reports whether Shutdown has begun.
func (t *Server[S, A]) Draining() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.draining
}

// Shutdown closes the listeners and Drains every session, then waits for
// them to Release. When ctx ends first, it Kills those left, waits for
// them, and returns ctx's error. cancel (may be nil) runs once the
// sessions are gone or ctx has ended, before any Kill.
func (t *Server[S, A]) Shutdown(ctx context.Context, cancel func()) error {
	t.mu.Lock()
	t.draining = true
	for l := range t.listeners {
		l.Close()
	}
	sessions := make([]S, 0, len(t.sessions))
	for sess := range t.sessions {
		sessions = append(sessions, sess)
	}
	t.mu.Unlock()
	for _, sess := range sessions {
		t.Drain(sess)
	}
	if cancel == nil {
		cancel = func() {}
	}

	done := make(chan struct{})
	go func() {
		t.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		cancel()
		return nil
	case <-ctx.Done():
	}
	cancel()
	t.mu.Lock()
	for sess := range t.sessions {
		t.Kill(sess)
	}
	t.mu.Unlock()
	<-done
	return ctx.Err()
}

// RemoteIP is the client address of a connection, or the zero Addr for
// pipes and unix sockets (one bucket for the per-IP limit).
func RemoteIP(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewID returns a random 13-character connection id (64 bits), for logs.
func NewID() string {
	var b [8]byte
	rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}
