// Package proxyproto accepts connections from load balancers that speak
// the PROXY protocol (HAProxy's proxy-protocol.txt: version 1 text and
// version 2 binary) and makes each connection's RemoteAddr the client's
// address from the header, so per-IP limits, SPF, Received fields, logs
// and the /metrics check downstream see the client, not the balancer.
//
// The policy is HAProxy's accept-proxy: a connection from outside the
// trusted networks is closed unread, and one from inside must start with
// a valid header within the timeout or is closed too. A header is never
// optional (spec §2: a receiver must not guess whether it is present, or
// anyone could pose as the balancer). Headers are read in a goroutine
// per connection, so a slow one does not hold up the accept loop;
// Accept returns only connections whose header has been read.
//
// Parsing is github.com/pires/go-proxyproto's (v1 lines up to 107 bytes,
// v2 address blocks and TLVs up to its MaxV2HeaderSize, 4 KiB). TLVs are
// ignored. A v2 LOCAL command (the balancer's own health checks) and a
// v1 "UNKNOWN" keep the socket's addresses; a PROXY command for a UNIX or
// UDP address is refused.
//
// Only the library's parser (Read) is used, not its Listener: that one
// reads the header lazily, on the first RemoteAddr, Read or Write, and
// connserver and smtpserver ask for RemoteAddr in their accept loops, so
// one slow balancer connection would stall every other. v0.15.0, as
// v0.16.0 needs Go 1.26.9.
package proxyproto

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	pp "github.com/pires/go-proxyproto"
)

// Defaults for the zero Options fields.
const (
	DefaultHeaderTimeout = 5 * time.Second
	DefaultMaxPending    = 256
)

// headerBuffer holds a whole v1 line (107 bytes), which the parser needs
// unsplit, and most v2 headers.
const headerBuffer = 256

// Options configure a Listener.
type Options struct {
	// Trusted are the networks of the load balancers; connections from
	// other addresses are closed without a byte read.
	Trusted []netip.Prefix

	// HeaderTimeout bounds the wait for the whole header;
	// DefaultHeaderTimeout when 0.
	HeaderTimeout time.Duration

	// MaxPending bounds the connections whose header is being read or
	// that wait for Accept; the listener stops accepting while it is
	// reached. DefaultMaxPending when 0.
	MaxPending int

	// Logger gets a line for each refused connection.
	Logger *slog.Logger

	// Refused, if not nil, is called for each refused connection (for
	// the metrics).
	Refused func()
}

// Listener wraps a net.Listener whose connections come from load
// balancers. Its Accept returns *Conn values.
type Listener struct {
	inner   net.Listener
	opts    Options
	results chan result
	done    chan struct{}
	slots   chan struct{}

	closeOnce sync.Once
	mu        sync.Mutex
	pending   map[net.Conn]struct{} // reading their header; closed by Close
}

type result struct {
	c   net.Conn
	err error
}

// Listen starts accepting on inner in the background; Close stops it.
func Listen(inner net.Listener, opts Options) *Listener {
	if opts.HeaderTimeout <= 0 {
		opts.HeaderTimeout = DefaultHeaderTimeout
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPending
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Listener{
		inner:   inner,
		opts:    opts,
		results: make(chan result),
		done:    make(chan struct{}),
		slots:   make(chan struct{}, opts.MaxPending),
		pending: make(map[net.Conn]struct{}),
	}
	go l.acceptLoop()
	return l
}

// Accept returns the next connection whose header has been read, with
// the client's address as RemoteAddr. Errors of the inner listener are
// passed on; after Close it returns net.ErrClosed.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case r := <-l.results:
		return r.c, r.err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting and closes the connections whose header has not
// been read yet.
func (l *Listener) Close() error {
	err := net.ErrClosed
	l.closeOnce.Do(func() {
		close(l.done)
		err = l.inner.Close()
		l.mu.Lock()
		for c := range l.pending {
			c.Close()
		}
		l.mu.Unlock()
	})
	return err
}

// Addr is the inner listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

func (l *Listener) acceptLoop() {
	for {
		select {
		case l.slots <- struct{}{}:
		case <-l.done:
			return
		}
		c, err := l.inner.Accept()
		if err != nil {
			<-l.slots
			if !l.deliver(result{err: err}) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue // temporary (EMFILE and the like): the server backs off
			}
			return
		}
		balancer := addrIP(c.RemoteAddr())
		if !l.trusted(balancer) {
			<-l.slots
			l.refuse(c, balancer, errors.New("not in proxy.trusted_networks"))
			continue
		}
		l.mu.Lock()
		select {
		case <-l.done: // Close has run: it would not see c
			l.mu.Unlock()
			c.Close()
			return
		default:
		}
		l.pending[c] = struct{}{}
		l.mu.Unlock()
		go l.handshake(c, balancer)
	}
}

// deliver hands r to Accept, or reports false once the listener is
// closed.
func (l *Listener) deliver(r result) bool {
	select {
	case l.results <- r:
		return true
	case <-l.done:
		return false
	}
}

// handshake reads c's header and hands the wrapped connection to Accept.
func (l *Listener) handshake(c net.Conn, balancer netip.Addr) {
	defer func() { <-l.slots }()
	wc, err := readHeader(c, l.opts.HeaderTimeout)
	l.mu.Lock()
	delete(l.pending, c)
	l.mu.Unlock()
	if err != nil {
		l.refuse(c, balancer, err)
		return
	}
	if !l.deliver(result{c: wc}) {
		c.Close()
	}
}

func (l *Listener) refuse(c net.Conn, balancer netip.Addr, err error) {
	c.Close()
	select {
	case <-l.done:
		return // closed by Close: not worth a line
	default:
	}
	if l.opts.Refused != nil {
		l.opts.Refused()
	}
	l.opts.Logger.Warn("proxy protocol: connection refused", "from", balancer, "listener", l.inner.Addr().String(), "err", err)
}

func (l *Listener) trusted(ip netip.Addr) bool {
	for _, p := range l.opts.Trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// addrIP is the IP address of a TCP address, unmapped; the zero Addr
// (trusted by no network) for anything else.
func addrIP(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// readHeader reads the PROXY header at the start of c within timeout.
func readHeader(c net.Conn, timeout time.Duration) (*Conn, error) {
	if err := c.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(c, headerBuffer)
	h, err := pp.Read(br)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return nil, fmt.Errorf("no complete PROXY header within %s", timeout)
	case errors.Is(err, pp.ErrNoProxyProtocol):
		return nil, errors.New("no PROXY header: the connection must start with one")
	case err != nil:
		return nil, fmt.Errorf("PROXY header: %w", err)
	}
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		return nil, err
	}
	wc := &Conn{Conn: c, r: br, remote: c.RemoteAddr(), local: c.LocalAddr(), balancer: c.RemoteAddr()}
	if h.Command.IsLocal() || h.TransportProtocol == pp.UNSPEC {
		wc.own = true
		return wc, nil // the balancer's own connection: its addresses
	}
	src, dst, ok := h.TCPAddrs()
	if !ok {
		return nil, fmt.Errorf("PROXY header for a %s connection: only TCP is served here", transportName(h.TransportProtocol))
	}
	wc.remote, wc.local = src, dst
	return wc, nil
}

func transportName(t pp.AddressFamilyAndProtocol) string {
	switch {
	case t.IsUnix():
		return "UNIX"
	case t.IsDatagram():
		return "UDP"
	}
	return fmt.Sprintf("0x%02x", byte(t))
}
