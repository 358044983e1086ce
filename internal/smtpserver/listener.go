package smtpserver

import (
	"crypto/tls"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/posthorn/posthorn/internal/clientnet"
)

// listener admits connections within the total and per-IP limits. A
// connection over a limit is answered 421 and closed before go-smtp sees
// it (RFC 5321 §3.8: a server may refuse service with 421).
type listener struct {
	net.Listener
	srv *Server
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		c := l.srv.admit(nc)
		if c == nil {
			continue
		}
		if l.srv.opts.ImplicitTLS {
			return tls.Server(c, l.srv.opts.TLSConfig), nil
		}
		return c, nil
	}
}

// admit registers nc, or refuses it when a limit is reached.
func (s *Server) admit(nc net.Conn) *conn {
	ip := remoteIP(nc.RemoteAddr())
	s.mu.Lock()
	if limit := s.overLimit(ip, time.Now()); limit != "" {
		s.mu.Unlock()
		s.opts.Conns.Refused()
		s.log.Info("connection refused: limit reached", "client", ip, "limit", limit)
		if !s.opts.ImplicitTLS {
			// A fresh socket's send buffer is empty: this write does not
			// block, but bound it anyway.
			nc.SetWriteDeadline(time.Now().Add(time.Second))
			io.WriteString(nc, "421 4.7.0 "+s.opts.Hostname+" Too many connections, try again later\r\n")
		}
		nc.Close()
		return nil
	}
	c := &conn{Conn: nc, srv: s, id: newID(), ip: ip, draining: s.draining}
	s.conns[c] = struct{}{}
	s.perIP[ip]++
	s.perNet[clientnet.Of(ip)]++
	s.mu.Unlock()
	s.opts.Conns.Opened()
	return c
}

func (s *Server) release(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	if n := s.perIP[c.ip] - 1; n > 0 {
		s.perIP[c.ip] = n
	} else {
		delete(s.perIP, c.ip)
	}
	n := clientnet.Of(c.ip)
	if k := s.perNet[n] - 1; k > 0 {
		s.perNet[n] = k
	} else {
		delete(s.perNet, n)
	}
	s.mu.Unlock()
	s.opts.Conns.Closed()
}

func remoteIP(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return netip.Addr{} // pipes, unix sockets: one bucket
}

// conn is the raw connection under go-smtp (and under TLS once STARTTLS
// ran). It carries the per-connection controls go-smtp lacks: per-read
// deadlines during message data, draining on Shutdown, and a kill switch
// that makes go-smtp stop reading after a 421.
type conn struct {
	net.Conn
	srv       *Server
	id        string
	ip        netip.Addr
	closeOnce sync.Once

	mu       sync.Mutex
	draining bool      // Shutdown started: close once idle
	inTx     bool      // between an accepted MAIL and the end of the transaction
	killed   bool      // a 421 was sent: reads return EOF
	inData   bool      // reading message data: per-read deadlines
	dataEnd  time.Time // deadline for the whole message data
}

// errDraining looks like a read timeout to go-smtp, which then answers
// "421 4.4.2" and closes the session.
type errDraining struct{}

func (errDraining) Error() string   { return "server shutting down" }
func (errDraining) Timeout() bool   { return true }
func (errDraining) Temporary() bool { return true }

var aLongTimeAgo = time.Unix(1, 0)

func (c *conn) Read(b []byte) (int, error) {
	c.mu.Lock()
	switch {
	case c.killed:
		c.mu.Unlock()
		return 0, io.EOF
	case c.draining && !c.inTx:
		c.mu.Unlock()
		return 0, errDraining{}
	case c.inData:
		// RFC 5321 §4.5.3.2.5: each data block gets its own timeout,
		// bounded by the timeout for the whole message.
		d := time.Now().Add(c.srv.opts.DataBlockTimeout)
		if d.After(c.dataEnd) {
			d = c.dataEnd
		}
		c.Conn.SetReadDeadline(d)
	}
	c.mu.Unlock()
	return c.Conn.Read(b)
}

// SetReadDeadline keeps a draining idle connection's deadline in the past,
// whatever go-smtp sets before reading the next command.
func (c *conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	if c.killed || (c.draining && !c.inTx) {
		t = aLongTimeAgo
	}
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

func (c *conn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(t)
}

func (c *conn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		err = c.Conn.Close()
		c.srv.release(c)
	})
	return err
}

// drain marks the connection for closing once it is outside a
// transaction, and wakes it if it is idle now.
func (c *conn) drain() {
	c.mu.Lock()
	c.draining = true
	if !c.inTx {
		c.Conn.SetReadDeadline(aLongTimeAgo)
	}
	c.mu.Unlock()
}

// kill makes go-smtp's next read end the session: after a 421 reply
// nothing more from this client is executed.
func (c *conn) kill() {
	c.mu.Lock()
	c.killed = true
	c.Conn.SetReadDeadline(aLongTimeAgo)
	c.mu.Unlock()
}

func (c *conn) isKilled() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.killed
}

func (c *conn) isDraining() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.draining
}

func (c *conn) setInTx(v bool) {
	c.mu.Lock()
	c.inTx = v
	c.mu.Unlock()
}

func (c *conn) beginData(end time.Time) {
	c.mu.Lock()
	c.inData, c.dataEnd = true, end
	c.mu.Unlock()
}

// endData leaves data mode. The deadline stays at the whole-message bound
// so that whatever go-smtp still discards after a rejection cannot stall
// the session beyond it.
func (c *conn) endData() {
	c.mu.Lock()
	if c.inData && !c.killed && !(c.draining && !c.inTx) {
		c.Conn.SetReadDeadline(c.dataEnd)
	}
	c.inData = false
	c.mu.Unlock()
}
