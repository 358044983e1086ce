package imapserver

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/posthorn/posthorn/internal/connserver"
	"github.com/posthorn/posthorn/internal/imap"
	"github.com/posthorn/posthorn/internal/imapserver/selected"
	"github.com/posthorn/posthorn/internal/store"
)

// state is a session's RFC 9051 §3 state. Logout is not a state a
// session waits in: LOGOUT ends the connection.
type state int

const (
	stateNotAuth state = iota
	stateAuth
	stateSelected
)

// Buffer sizes. The read buffer is held for the whole connection, so it is
// small (the codec reads octet by octet from it; large literals bypass
// it). The write buffer is taken from a pool for one command (or a run of
// pipelined ones) and given back before the session waits for input: an
// idle connection holds none.
const (
	readBufferSize  = 2 << 10
	writeBufferSize = 32 << 10
)

var writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, writeBufferSize) }}

// session is one client connection. Only its own goroutine touches its
// fields (during IDLE, a short-lived reader goroutine uses r alone), except
// those under mu, which Shutdown sets.
type session struct {
	srv   *Server
	raw   net.Conn // the accepted connection
	nc    net.Conn // raw, or TLS on top of it
	br    *bufio.Reader
	r     *imap.Reader
	bw    *bufio.Writer // from writerPool while output is pending, else nil
	w     *imap.Writer  // on bw
	ip    netip.Addr
	id    string
	tls   *tls.ConnectionState // nil in plain text
	start time.Time

	mu       sync.Mutex
	busy     bool // running a command
	draining bool // Shutdown started: end once idle

	state state
	acct  store.Account // once logged in
	// caps are the features turned on with ENABLE (RFC 5161) or
	// implicitly (CONDSTORE, RFC 7162 §3.1); the View reads and sets them.
	caps     selected.Caps
	sel      selection
	bad      int // BAD answers sent
	failures int // failed logins
	commands int

	reason string
	// linger: the session ends on a protocol error, maybe with client
	// input unread; see lingerClose.
	linger bool
}

func newSession(s *Server, nc net.Conn, ip netip.Addr) *session {
	sess := &session{srv: s, raw: nc, ip: ip, id: connserver.NewID(), start: time.Now()}
	sess.setConn(&deadlineConn{Conn: nc, timeout: s.idleTimeout})
	return sess
}

// deadlineConn gives every write its own deadline, so that a client that
// stops reading in the middle of a long FETCH is dropped after the
// autologout time.
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
	sess.br = bufio.NewReaderSize(nc, readBufferSize)
	sess.r = imap.NewReader(sess.br, sess.readerOptions())
}

// readerOptions are the codec's limits for the current state: before
// login no APPEND is possible, so its literals get the small limit.
func (sess *session) readerOptions() imap.ReaderOptions {
	o := imap.ReaderOptions{
		MaxLine:    sess.srv.opts.MaxLineLength,
		MaxLiteral: maxLiteral,
		MaxAppend:  maxLiteral,
		Literal:    sess.literal,
	}
	if sess.state != stateNotAuth {
		o.MaxAppend = sess.srv.opts.MaxMessageSize
	}
	return o
}

// out returns the writer for responses, taking a buffer from the pool if
// the session holds none.
func (sess *session) out() *imap.Writer {
	if sess.w == nil {
		sess.bw = writerPool.Get().(*bufio.Writer)
		sess.bw.Reset(sess.nc)
		sess.w = imap.NewWriter(sess.bw)
	}
	// RFC 9051 and RFC 6855: 8-bit UTF-8 in quoted strings only for
	// IMAP4rev2 and UTF8=ACCEPT clients.
	sess.w.UTF8 = sess.utf8()
	return sess.w
}

// flush sends pending output and gives the buffer back to the pool.
func (sess *session) flush() error {
	if sess.w == nil {
		return nil
	}
	err := sess.w.Flush()
	sess.bw.Reset(nil)
	writerPool.Put(sess.bw)
	sess.bw, sess.w = nil, nil
	return err
}

var errDraining = errors.New("server shutting down")

// serve runs the session to its end.
func (sess *session) serve() {
	defer sess.finish()
	if sess.srv.opts.ImplicitTLS {
		if err := sess.startTLS(); err != nil {
			sess.reason = "tls handshake: " + err.Error()
			return
		}
	}
	// RFC 9051 §7.1.1 greeting, with the capabilities (§7.2.2).
	sess.out().Status("", imap.OK, "CAPABILITY "+sess.capabilities(), "posthorn IMAP4rev2 server ready")
	if err := sess.flush(); err != nil {
		sess.reason = "write: " + err.Error()
		return
	}
	for {
		cmd, err := sess.readCommand()
		if err != nil {
			if sess.readFailed(err) {
				continue
			}
			return
		}
		if !sess.execute(cmd) {
			return
		}
	}
}

// readCommand waits up to the autologout time for the next command (RFC
// 9051 §5.4) and reads it with its literals.
func (sess *session) readCommand() (*imap.Command, error) {
	sess.mu.Lock()
	sess.busy = false
	if sess.draining {
		sess.mu.Unlock()
		return nil, errDraining
	}
	sess.raw.SetReadDeadline(time.Now().Add(sess.srv.idleTimeout))
	sess.mu.Unlock()

	_, err := sess.br.Peek(1)

	sess.mu.Lock()
	sess.busy = true
	draining := sess.draining
	sess.mu.Unlock()
	switch {
	case draining:
		return nil, errDraining
	case err != nil:
		return nil, err
	}
	return sess.r.ReadCommand()
}

// literal is the codec's hook before a literal's octets are read (RFC 9051
// §4.3, §7.5): it refuses APPEND messages before login and over the
// quota, and sends the "+" a synchronizing literal waits for. Each literal
// gets a fresh autologout time.
func (sess *session) literal(l imap.Literal) error {
	if l.Append {
		if sess.state == stateNotAuth {
			return &imap.Error{Status: imap.BAD, Text: "Log in first"}
		}
		if err := sess.checkQuota(l.Size); err != nil {
			return err
		}
	}
	sess.raw.SetReadDeadline(time.Now().Add(sess.srv.idleTimeout))
	if l.NonSync {
		return nil
	}
	sess.out().Continue("Ready for literal data")
	return sess.flush()
}

// readFailed answers a command that could not be read. It reports whether
// the session goes on.
func (sess *session) readFailed(err error) bool {
	var ne net.Error
	switch {
	case errors.Is(err, errDraining):
		sess.reason = "shutdown"
		sess.bye("", "Server shutting down, try again later")
		return false
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		sess.reason = "client closed"
		return false
	case errors.As(err, &ne) && ne.Timeout():
		sess.reason = "autologout"
		sess.bye("", "Autologout; idle for too long")
		return false
	}
	pe := imap.AsError(err)
	if pe == nil {
		sess.reason = "read: " + err.Error()
		return false
	}
	if sess.commands == 0 && isHTTPVerb(pe.Tag) {
		sess.reason, sess.linger = "http request", true
		sess.bye("", "This is an IMAP server")
		return false
	}
	sess.out().Error(pe)
	if pe.Status == imap.BAD {
		sess.bad++
	}
	switch {
	case pe.Fatal:
		sess.reason, sess.linger = "protocol error: "+pe.Text, true
		sess.bye("", "Closing: "+pe.Text)
		return false
	case sess.bad >= sess.srv.opts.MaxErrors:
		sess.reason, sess.linger = "too many bad commands", true
		sess.bye("", "Too many invalid commands")
		return false
	}
	return sess.endOfCommand()
}

// bye writes an untagged BYE (RFC 9051 §7.1.5) and flushes.
func (sess *session) bye(code, text string) {
	sess.out().Status("", imap.BYE, code, text)
	sess.flush()
}

// endOfCommand flushes the output unless more pipelined commands are
// already waiting, and reports whether the session can go on.
func (sess *session) endOfCommand() bool {
	if sess.br.Buffered() > 0 && sess.w != nil && sess.w.Err() == nil {
		return true
	}
	if err := sess.flush(); err != nil {
		sess.reason = "write: " + err.Error()
		return false
	}
	return true
}

// drain ends the session once it is idle: at once if it is waiting for a
// command or in IDLE now.
func (sess *session) drain() {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	sess.draining = true
	if !sess.busy {
		sess.raw.SetReadDeadline(time.Unix(1, 0))
	}
}

// isDraining reports whether Shutdown asked the session to end.
func (sess *session) isDraining() bool {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return sess.draining
}

// startTLS runs the server side of a TLS handshake on the raw connection.
func (sess *session) startTLS() error {
	tc := tls.Server(&deadlineConn{Conn: sess.raw, timeout: sess.srv.idleTimeout}, sess.srv.opts.TLSConfig)
	sess.raw.SetReadDeadline(time.Now().Add(handshakeTimeout))
	if err := tc.HandshakeContext(sess.srv.ctx); err != nil {
		return err
	}
	cs := tc.ConnectionState()
	sess.tls = &cs
	sess.setConn(tc)
	return nil
}

// finish releases everything the session holds.
func (sess *session) finish() {
	sess.unselect()
	if sess.state != stateNotAuth {
		sess.srv.conns.ReleaseAccount(sess.acct.ID)
	}
	if sess.w != nil {
		sess.flush()
	}
	if sess.linger {
		sess.lingerClose()
	}
	sess.nc.Close()
	sess.raw.Close()
	sess.srv.conns.Release(sess)

	attrs := []any{"conn", sess.id, "client", sess.ip.String(), "duration", time.Since(sess.start).Round(time.Millisecond),
		"commands", sess.commands}
	if sess.tls != nil {
		attrs = append(attrs, "tls", tls.VersionName(sess.tls.Version)+" "+tls.CipherSuiteName(sess.tls.CipherSuite))
	}
	if sess.state != stateNotAuth {
		attrs = append(attrs, "account", sess.acct.Address)
	}
	sess.srv.log.Info("imap session", append(attrs, "end", sess.reason)...)
}

// lingerClose half-closes the connection and reads what the client still
// sends for a moment before it is closed: closing a TCP connection with
// unread input makes the kernel send a reset, which can destroy the last
// response before the client reads it.
func (sess *session) lingerClose() {
	if tc, ok := sess.nc.(*tls.Conn); ok {
		tc.CloseWrite()
	}
	tcp, ok := sess.raw.(*net.TCPConn)
	if !ok {
		return
	}
	tcp.CloseWrite()
	tcp.SetReadDeadline(time.Now().Add(lingerTimeout))
	io.Copy(io.Discard, io.LimitReader(tcp, 1<<20))
}

// isHTTPVerb reports whether the first word a client sent is an HTTP
// method: a browser or proxy talking to an IMAP port is dropped at once.
func isHTTPVerb(tag string) bool {
	switch tag {
	case "GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "CONNECT":
		return true
	}
	return false
}
