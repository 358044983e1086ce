package proxyproto

import (
	"bufio"
	"errors"
	"net"
)

// Conn is a connection whose PROXY header has been read: RemoteAddr is
// the client's address from it, LocalAddr the address the client
// connected to on the balancer (for v2 LOCAL and v1 UNKNOWN both stay
// the socket's).
type Conn struct {
	net.Conn
	r             *bufio.Reader // bytes read past the header; nil once drained
	remote, local net.Addr
	balancer      net.Addr
	own           bool // a v2 LOCAL or v1 UNKNOWN header
}

// Read returns what was read past the header first, then reads c's
// connection. Like net.Conn's Read it is not meant for concurrent calls.
func (c *Conn) Read(b []byte) (int, error) {
	if c.r != nil {
		if c.r.Buffered() > 0 {
			return c.r.Read(b)
		}
		c.r = nil
	}
	return c.Conn.Read(b)
}

// RemoteAddr is the client's address from the header.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// LocalAddr is the address the client connected to.
func (c *Conn) LocalAddr() net.Addr { return c.local }

// Balancer is the address of the load balancer that sent the header.
func (c *Conn) Balancer() net.Addr { return c.balancer }

// Local reports whether the header was a v2 LOCAL command or a v1
// "UNKNOWN" line: the balancer's own connection, such as its health
// check, not a client's.
func (c *Conn) Local() bool { return c.own }

// CloseWrite half-closes the connection when the underlying one can
// (TCP), as servers do before a lingering close.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
