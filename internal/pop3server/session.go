package pop3server

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/posthorn/posthorn/internal/connserver"
)

// state is a session's RFC 1939 state. UPDATE is not a state a session
// waits in: it is entered and left within QUIT.
type state int

const (
	stateAuthorization state = iota
	stateTransaction
)

// session is one client connection. Only its own goroutine touches its
// fields, except those under mu, which Shutdown sets.
type session struct {
	srv   *Server
	raw   net.Conn // the accepted connection
	nc    net.Conn // raw, or TLS on top of it
	r     *bufio.Reader
	w     *bufio.Writer
	ip    netip.Addr
	id    string
	tls   *tls.ConnectionState // nil in plain text
	start time.Time

	mu       sync.Mutex
	busy     bool // running a command
	draining bool // Shutdown started: end once idle
	lockLost bool // the maildrop lock is or may be lost: end at once, without UPDATE

	state    state
	user     string // from USER, for PASS
	acctKey  string // the per-account slot this session holds, "" if none
	sasl     *saslExchange
	failures int // failed logins
	bad      int // unknown or malformed commands
	drop     *maildrop
	lock     *dropLock // drop.account's maildrop lock, nil once given back

	retrieved, deleted int // for the session log line
	reason             string
	handshakeErr       error // of the implicit TLS handshake, which ended the session
	// linger: the session ends on a protocol error, maybe with client
	// input unread; see lingerClose.
	linger bool
}

func newSession(s *Server, nc net.Conn, ip netip.Addr) *session {
	sess := &session{srv: s, raw: nc, ip: ip, id: connserver.NewID(), start: time.Now()}
	sess.setConn(&deadlineConn{Conn: nc, timeout: s.opts.IdleTimeout})
	return sess
}

// deadlineConn gives every write its own deadline, so that a client that
// stops reading in the middle of a long RETR is dropped after IdleTimeout.
type deadlineConn struct {
	net.Conn
	timeout time.Duration
}

func (c *deadlineConn) Write(b []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	return c.Conn.Write(b)
}

func (sess *session) setConn(nc net.Conn) {
	sess.nc = nc
	sess.r = bufio.NewReaderSize(nc, sess.srv.opts.MaxLineLength)
	sess.w = bufio.NewWriterSize(nc, 4096) // see retrBufferSize
}

var (
	errLineTooLong = errors.New("line too long")
	errDraining    = errors.New("server shutting down")
	errLockLost    = errors.New("maildrop lock lost")
)

// serve runs the session to its end.
func (sess *session) serve() {
	defer sess.finish()
	if sess.srv.opts.ImplicitTLS {
		if err := sess.startTLS(); err != nil {
			sess.reason, sess.handshakeErr = "tls handshake: "+err.Error(), err
			return
		}
	}
	// RFC 1939 §4 greeting. No APOP timestamp: APOP is not offered.
	if !sess.send(okReply(sess.srv.opts.Hostname + " POP3 server ready")) {
		return
	}
	for {
		line, err := sess.readLine()
		if err != nil {
			sess.readFailed(err)
			return
		}
		var rep reply
		if sess.sasl != nil {
			rep = sess.saslStep(line)
		} else {
			rep = sess.command(line)
		}
		if !sess.send(rep) || rep.close {
			return
		}
		if rep.then != nil && !rep.then() {
			return
		}
	}
}

// readLine waits up to IdleTimeout for the next line (RFC 1939 §3
// autologout) and returns it without its line ending.
func (sess *session) readLine() (string, error) {
	sess.mu.Lock()
	sess.busy = false
	if err := sess.interrupted(); err != nil {
		sess.mu.Unlock()
		return "", err
	}
	sess.raw.SetReadDeadline(time.Now().Add(sess.srv.opts.IdleTimeout))
	sess.mu.Unlock()

	b, err := sess.r.ReadSlice('\n')

	sess.mu.Lock()
	sess.busy = true
	stop := sess.interrupted()
	sess.mu.Unlock()
	switch {
	case stop != nil:
		return "", stop
	case errors.Is(err, bufio.ErrBufferFull):
		return "", errLineTooLong
	case err != nil:
		return "", err
	}
	b = b[:len(b)-1]
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return string(b), nil
}

// interrupted is why the session must end before its next command, if
// it must: Shutdown, or a lost maildrop lock. Called with mu held.
func (sess *session) interrupted() error {
	switch {
	case sess.lockLost:
		return errLockLost
	case sess.draining:
		return errDraining
	}
	return nil
}

// readFailed says goodbye where that still makes sense.
func (sess *session) readFailed(err error) {
	var ne net.Error
	switch {
	case errors.Is(err, errDraining):
		sess.reason = "shutdown"
		sess.send(errReply(codeSysTemp, "Server shutting down, try again later"))
	case errors.Is(err, errLockLost):
		sess.reason = "maildrop lock lost"
		sess.send(errLockLostReply)
	case errors.Is(err, errLineTooLong):
		sess.reason, sess.linger = "line too long", true
		sess.send(errReply(codeNone, "Line too long"))
	case errors.As(err, &ne) && ne.Timeout():
		sess.reason = "autologout"
		sess.send(errReply(codeNone, "Autologout; idle for too long"))
	case errors.Is(err, io.EOF):
		sess.reason = "client closed"
	default:
		sess.reason = "read: " + err.Error()
	}
}

// send writes a reply, and flushes unless more pipelined commands are
// already waiting (RFC 2449 §6.6 PIPELINING). It reports whether the
// session can go on.
func (sess *session) send(r reply) bool {
	if err := r.write(sess.w); err != nil {
		sess.reason = "write: " + err.Error()
		return false
	}
	if sess.r.Buffered() > 0 && !r.close && r.then == nil {
		return true
	}
	if err := sess.w.Flush(); err != nil {
		sess.reason = "write: " + err.Error()
		return false
	}
	return true
}

// drain ends the session once it is idle: at once if it is waiting for a
// command now.
func (sess *session) drain() {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	sess.draining = true
	sess.wake()
}

// loseLock ends the session, without UPDATE, once it is idle: its
// maildrop lock is or may be lost.
func (sess *session) loseLock() {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	sess.lockLost = true
	sess.wake()
}

// wake ends the wait for a command, if the session is waiting. Called
// with mu held.
func (sess *session) wake() {
	if !sess.busy {
		sess.raw.SetReadDeadline(time.Unix(1, 0))
	}
}

// startTLS runs the server side of a TLS handshake on the raw connection.
func (sess *session) startTLS() error {
	tc := tls.Server(&deadlineConn{Conn: sess.raw, timeout: sess.srv.opts.IdleTimeout}, sess.srv.opts.TLSConfig)
	sess.raw.SetReadDeadline(time.Now().Add(handshakeTimeout))
	if err := tc.HandshakeContext(sess.srv.ctx); err != nil {
		return err
	}
	cs := tc.ConnectionState()
	sess.tls = &cs
	sess.setConn(tc)
	return nil
}

// finish releases everything the session holds. A session that did not
// QUIT deletes nothing (RFC 1939 §6).
func (sess *session) finish() {
	if sess.lock != nil {
		sess.lock.release(sess.srv.ctx, sess.id)
	}
	if sess.acctKey != "" {
		sess.srv.conns.ReleaseAccount(sess.acctKey)
	}
	if sess.linger {
		sess.lingerClose()
	}
	sess.nc.Close()
	sess.raw.Close()
	sess.srv.conns.Release(sess)

	attrs := []any{"conn", sess.id, "client", sess.ip.String(), "duration", time.Since(sess.start).Round(time.Millisecond)}
	if sess.tls != nil {
		attrs = append(attrs, "tls", tls.VersionName(sess.tls.Version)+" "+tls.CipherSuiteName(sess.tls.CipherSuite))
	}
	if sess.drop != nil {
		attrs = append(attrs, "account", sess.drop.account.Address, "retrieved", sess.retrieved, "deleted", sess.deleted)
	}
	sess.srv.log.Log(context.Background(), connserver.SessionLevel(sess.raw, sess.handshakeErr), "pop3 session", append(attrs, "end", sess.reason)...)
}

// lingerClose half-closes the connection and reads what the client still
// sends for a moment before it is closed: closing a TCP connection with
// unread input makes the kernel send a reset, which can destroy the last
// reply before the client reads it.
func (sess *session) lingerClose() {
	if tc, ok := sess.nc.(*tls.Conn); ok {
		tc.CloseWrite()
	}
	// A TCP connection, or one from package proxyproto around it.
	tcp, ok := sess.raw.(interface {
		net.Conn
		CloseWrite() error
	})
	if !ok {
		return
	}
	tcp.CloseWrite()
	tcp.SetReadDeadline(time.Now().Add(lingerTimeout))
	io.Copy(io.Discard, io.LimitReader(tcp, 1<<20))
}

// httpVerbs are the first words of HTTP requests: a browser or proxy
// talking to a POP3 port is dropped at once.
var httpVerbs = []string{"GET ", "POST ", "PUT ", "HEAD ", "DELETE ", "OPTIONS ", "CONNECT "}

// command parses and runs one command line.
func (sess *session) command(line string) reply {
	for _, v := range httpVerbs {
		if strings.HasPrefix(line, v) {
			sess.reason, sess.linger = "http request", true
			return reply{code: codeNone, text: "This is a POP3 server", close: true}
		}
	}
	cmd, err := parseCommand(line)
	if err != nil {
		return sess.badCommand("Malformed command")
	}
	var rep reply
	var known bool
	if sess.state == stateAuthorization {
		rep, known = sess.authorizationCommand(cmd)
	} else {
		rep, known = sess.transactionCommand(cmd)
	}
	if !known {
		return sess.badCommand("Unknown command in this state")
	}
	return rep
}

// badCommand counts an unknown or malformed command and ends the session
// after maxBadCommands.
func (sess *session) badCommand(text string) reply {
	sess.bad++
	if sess.bad >= maxBadCommands {
		sess.reason, sess.linger = "too many bad commands", true
		return reply{text: "Too many bad commands, closing", close: true}
	}
	return errReply(codeNone, text)
}

// capa answers CAPA (RFC 2449 §5). Only what this connection can use is
// listed: USER and SASL need TLS (or plaintext on loopback when allowed),
// STLS needs a TLS config and plain text. The list is the same in both
// states: RFC 2449 §5 wants the AUTHORIZATION capabilities announced in
// TRANSACTION too (Dovecot drops them there).
func (sess *session) capa() reply {
	lines := []string{"TOP", "UIDL"}
	if sess.plaintextOK() {
		lines = append(lines, "USER")
		if mechs := sess.mechanisms(); len(mechs) > 0 {
			lines = append(lines, "SASL "+strings.Join(mechs, " "))
		}
	}
	if sess.tls == nil && sess.srv.opts.TLSConfig != nil {
		lines = append(lines, "STLS")
	}
	lines = append(lines, "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "EXPIRE NEVER", "IMPLEMENTATION posthorn")
	return reply{ok: true, text: "Capability list follows", multi: true, lines: lines}
}

// plaintextOK reports whether credentials may be sent on this connection:
// with TLS, or from loopback when AllowPlaintextAuth is set (RFC 2595 §2.1
// leaves plain text to local policy).
func (sess *session) plaintextOK() bool {
	return sess.tls != nil || (sess.srv.opts.AllowPlaintextAuth && sess.ip.IsLoopback())
}

func (sess *session) stlsOK() bool {
	return sess.tls == nil && sess.srv.opts.TLSConfig != nil && sess.state == stateAuthorization
}
