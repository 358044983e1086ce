package imapserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
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

// Buffer sizes. Both buffers come from pools: the write buffer for one
// command (or a run of pipelined ones), given back before the session
// waits for input; the read buffer while input is at hand, given back
// when the session waits with nothing buffered. An idle connection holds
// neither (issue 3: memory per idle connection). The read buffer is small:
// the codec reads octet by octet from it, and large literals bypass it.
const (
	readBufferSize  = 2 << 10
	writeBufferSize = 32 << 10
)

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, writeBufferSize) }}
)

// session is one client connection. Only the goroutine running it touches
// its fields, except those under mu, which Shutdown sets, and those that
// IDLE's pushes use under pushMu (see idle.go).
type session struct {
	srv *Server
	raw net.Conn // the accepted connection
	nc  net.Conn // raw, or TLS on top of it
	in  input
	// inErr is what a poll of crypto/tls's input found (pollTLS), for
	// the next read; rawEmpty says the poll found nothing buffered.
	inErr    error
	rawEmpty bool
	br       *bufio.Reader // from readerPool over in while input is buffered, else nil
	r        *imap.Reader  // on br
	bw       *bufio.Writer // from writerPool while output is pending, else nil
	w        *imap.Writer  // on bw
	ip       netip.Addr
	id       string
	tls      *tls.Conn // nc once TLS is on, else nil
	start    time.Time

	mu       sync.Mutex
	busy     bool      // running a command
	draining bool      // Shutdown started: end once idle
	woken    bool      // a push ended the session: its read ends now
	deadline time.Time // autologout time of the current read

	state state
	acct  store.Account // once logged in
	// caps are the features turned on with ENABLE (RFC 5161) or
	// implicitly (CONDSTORE, RFC 7162 §3.1); the View reads and sets them.
	caps     selected.Caps
	sel      selection
	bad      int // BAD answers sent
	failures int // failed logins
	commands int

	// idling is the IDLE in progress (idle.go); pushMu is held by
	// whoever writes to the client or uses the selection meanwhile.
	idling      *idling
	pushMu      sync.Mutex
	pushPending atomic.Bool

	reason       string
	handshakeErr error // of the implicit TLS handshake, which ended the session
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

// setConn makes nc the session's connection; input buffered from the one
// before is dropped.
func (sess *session) setConn(nc net.Conn) {
	sess.nc = nc
	sess.in = input{nc: nc}
	if sess.br != nil {
		sess.br.Reset(&sess.in)
	}
	if sess.r == nil {
		sess.r = imap.NewReader(sess.br, sess.readerOptions())
	}
}

// input is what the read buffer reads from: the octet the session read
// while waiting without a buffer, then the connection.
type input struct {
	nc      net.Conn
	first   [1]byte
	pending bool
}

func (in *input) Read(p []byte) (int, error) {
	if in.pending && len(p) > 0 {
		p[0], in.pending = in.first[0], false
		return 1, nil
	}
	return in.nc.Read(p)
}

// fill makes sure some input is buffered. With none, the read buffer goes
// back to the pool and the session waits for one octet from the
// connection; then it takes a buffer again.
func (sess *session) fill() error {
	if sess.buffered() {
		return nil
	}
	if sess.br != nil {
		sess.br.Reset(nil)
		readerPool.Put(sess.br)
		sess.br = nil
		sess.r.SetBuffer(nil)
	}
	if err := sess.inErr; err != nil {
		sess.inErr = nil
		return err
	}
	if sess.rawEmpty {
		sess.rawEmpty = false
		if err := awaitReadable(sess.raw); err != nil {
			return err
		}
	}
	n, err := sess.nc.Read(sess.in.first[:])
	if n == 0 {
		if err == nil {
			err = io.ErrNoProgress
		}
		return err
	}
	sess.primed()
	return nil
}

// primed takes a read buffer over the octet just read into in.first.
func (sess *session) primed() {
	sess.in.pending = true
	if sess.br == nil {
		sess.br = readerPool.Get().(*bufio.Reader)
		sess.r.SetBuffer(sess.br)
	}
	sess.br.Reset(&sess.in)
}

// pollTLS reads what crypto/tls holds already (decrypted input, or whole
// records read with earlier ones) without waiting, and reports whether
// there was any. Then the goroutine that waits can park on the socket
// itself (fill): crypto/tls's read path is deep enough to double a
// fresh goroutine's 2 KiB stack, and this runs on the goroutine that ran
// the command, whose stack is big anyway. A timeout in crypto/tls is
// temporary: a partly read record stays buffered.
func (sess *session) pollTLS() bool {
	tc := sess.tls
	if tc == nil {
		return false
	}
	sess.mu.Lock()
	sess.raw.SetReadDeadline(time.Unix(1, 0))
	sess.mu.Unlock()
	n, err := tc.Read(sess.in.first[:])
	sess.mu.Lock()
	if !sess.draining && !sess.woken {
		sess.raw.SetReadDeadline(sess.deadline)
	}
	sess.mu.Unlock()
	var ne net.Error
	switch {
	case n > 0:
		sess.primed()
		return true
	case errors.As(err, &ne) && ne.Timeout():
		sess.rawEmpty = true
	default:
		sess.inErr = err
	}
	return false
}

// awaitReadable waits until the socket has input (or an error, or end of
// file), without reading it.
func awaitReadable(c net.Conn) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return err != syscall.EAGAIN && err != syscall.EINTR
	})
}

// setReadDeadline sets the time by which the client must send input,
// unless Shutdown or a push already ended the wait.
func (sess *session) setReadDeadline(t time.Time) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	sess.deadline = t
	if !sess.draining && !sess.woken {
		sess.raw.SetReadDeadline(t)
	}
}

// buffered reports whether input is at hand without waiting.
func (sess *session) buffered() bool { return sess.bufferedLen() > 0 }

// bufferedLen is the number of octets of input at hand.
func (sess *session) bufferedLen() int {
	n := 0
	if sess.in.pending {
		n++
	}
	if sess.br != nil {
		n += sess.br.Buffered()
	}
	return n
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

// serve runs the session: the greeting, then commands.
func (sess *session) serve() {
	if sess.srv.opts.ImplicitTLS {
		if err := sess.startTLS(); err != nil {
			sess.reason, sess.handshakeErr = "tls handshake: "+err.Error(), err
			sess.finish()
			return
		}
	}
	// RFC 9051 §7.1.1 greeting, with the capabilities (§7.2.2).
	sess.out().Status("", imap.OK, "CAPABILITY "+sess.capabilities(), "posthorn IMAP4rev2 server ready")
	if err := sess.flush(); err != nil {
		sess.reason = "write: " + err.Error()
		sess.finish()
		return
	}
	sess.loop(false)
}

// loop runs commands until the session ends. When nothing is buffered it
// hands over to a new goroutine, which waits for the client, and this one
// ends: running a command grows a goroutine's stack (to 8 KiB and more),
// and the runtime shrinks it only in a garbage collection, while a fresh
// goroutine parked in a read needs 2–4 KiB. A waiting session holds one
// small goroutine and no buffers. fresh: the goroutine was started to
// wait (and must not hand over again before reading).
func (sess *session) loop(fresh bool) {
	for {
		if !fresh && !sess.buffered() && !sess.pollTLS() {
			go sess.loop(true)
			return
		}
		fresh = false
		if !sess.step() {
			sess.finish()
			return
		}
	}
}

// step reads the next command, or the end of an IDLE, and answers it. It
// reports whether the session goes on.
func (sess *session) step() bool {
	if sess.idling != nil {
		return sess.idleDone()
	}
	sess.setReadDeadline(time.Now().Add(sess.srv.idleTimeout))
	cmd, err := sess.readCommand()
	if err != nil {
		return sess.readFailed(err)
	}
	return sess.execute(cmd)
}

// readCommand waits up to the autologout time (RFC 9051 §5.4), set by the
// caller, for the next command and reads it with its literals.
func (sess *session) readCommand() (*imap.Command, error) {
	if err := sess.waitInput(); err != nil {
		return nil, err
	}
	return sess.r.ReadCommand()
}

// waitInput waits for input from the client, where Shutdown may end the
// session (it is not busy meanwhile).
func (sess *session) waitInput() error {
	sess.mu.Lock()
	sess.busy = false
	if sess.draining {
		sess.mu.Unlock()
		return errDraining
	}
	sess.mu.Unlock()

	err := sess.fill()

	sess.mu.Lock()
	sess.busy = true
	draining := sess.draining
	sess.mu.Unlock()
	if draining {
		return errDraining
	}
	return err
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
	sess.setReadDeadline(time.Now().Add(sess.srv.idleTimeout))
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
	if sess.buffered() && sess.w != nil && sess.w.Err() == nil {
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
	sess.setReadDeadline(time.Now().Add(handshakeTimeout))
	if err := tc.HandshakeContext(sess.srv.ctx); err != nil {
		return err
	}
	sess.tls = tc
	sess.setConn(tc)
	return nil
}

// tlsState is the TLS connection's state (a copy made on demand, not
// kept: it is a few hundred octets), nil in plain text.
func (sess *session) tlsState() *tls.ConnectionState {
	if sess.tls == nil {
		return nil
	}
	cs := sess.tls.ConnectionState()
	return &cs
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
	if sess.br != nil {
		sess.br.Reset(nil)
		readerPool.Put(sess.br)
		sess.br = nil
	}
	if sess.linger {
		sess.lingerClose()
	}
	sess.nc.Close()
	sess.raw.Close()
	sess.srv.conns.Release(sess)

	attrs := []any{"conn", sess.id, "client", sess.ip.String(), "duration", time.Since(sess.start).Round(time.Millisecond),
		"commands", sess.commands}
	if cs := sess.tlsState(); cs != nil {
		attrs = append(attrs, "tls", tls.VersionName(cs.Version)+" "+tls.CipherSuiteName(cs.CipherSuite))
	}
	if sess.state != stateNotAuth {
		attrs = append(attrs, "account", sess.acct.Address)
	}
	sess.srv.log.Log(context.Background(), connserver.SessionLevel(sess.raw, sess.handshakeErr), "imap session", append(attrs, "end", sess.reason)...)
}

// lingerClose half-closes the connection and reads what the client still
// sends for a moment before it is closed: closing a TCP connection with
// unread input makes the kernel send a reset, which can destroy the last
// response before the client reads it.
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

// isHTTPVerb reports whether the first word a client sent is an HTTP
// method: a browser or proxy talking to an IMAP port is dropped at once.
func isHTTPVerb(tag string) bool {
	switch tag {
	case "GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "CONNECT":
		return true
	}
	return false
}
