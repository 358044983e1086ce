package proxyproto

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// wait bounds every wait in these tests: generous, as the machine may be
// loaded; the timeouts under test are far shorter.
const wait = 10 * time.Second

type fixture struct {
	l       *Listener
	addr    string
	refused atomic.Int32
}

// listen starts a Listener on 127.0.0.1 trusting the given networks.
func listen(t *testing.T, timeout time.Duration, trusted ...string) *fixture {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{addr: inner.Addr().String()}
	var nets []netip.Prefix
	for _, s := range trusted {
		nets = append(nets, netip.MustParsePrefix(s))
	}
	f.l = Listen(inner, Options{Trusted: nets, HeaderTimeout: timeout, Refused: func() { f.refused.Add(1) }})
	t.Cleanup(func() { f.l.Close() })
	return f
}

// dial connects from the loopback address from (e.g. "127.0.0.2") and
// writes data.
func (f *fixture) dial(t *testing.T, from string, data []byte) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: wait, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if len(data) > 0 {
		if _, err := c.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// accept waits for the next connection Accept returns.
func (f *fixture) accept(t *testing.T) *Conn {
	t.Helper()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := f.l.Accept()
		ch <- res{c, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		t.Cleanup(func() { r.c.Close() })
		return r.c.(*Conn)
	case <-time.After(wait):
		t.Fatal("Accept returned nothing")
		return nil
	}
}

// refusedConn asserts that the server closes c without a byte and that want
// refusals have been counted in all.
func (f *fixture) refusedConn(t *testing.T, c net.Conn, want int32) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(wait))
	n, err := c.Read(make([]byte, 1))
	var ne net.Error
	if n != 0 || err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("read from refused connection: %d bytes, %v; want it closed", n, err)
	}
	deadline := time.Now().Add(wait)
	for f.refused.Load() < want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := f.refused.Load(); got != want {
		t.Fatalf("%d refusals counted, want %d", got, want)
	}
}

func TestV1(t *testing.T) {
	f := listen(t, 0, "127.0.0.0/8")
	f.dial(t, "127.0.0.1", []byte("PROXY TCP4 192.0.2.7 198.51.100.1 4321 25\r\nEHLO client.example\r\n"))
	c := f.accept(t)
	if got := c.RemoteAddr().String(); got != "192.0.2.7:4321" {
		t.Errorf("RemoteAddr %s, want the header's 192.0.2.7:4321", got)
	}
	if got := c.LocalAddr().String(); got != "198.51.100.1:25" {
		t.Errorf("LocalAddr %s, want the header's 198.51.100.1:25", got)
	}
	if got := c.Balancer().String(); !strings.HasPrefix(got, "127.0.0.1:") {
		t.Errorf("Balancer %s, want the socket's 127.0.0.1", got)
	}
	// What the client sent behind the header, in the same segment, is
	// read first and whole.
	c.SetReadDeadline(time.Now().Add(wait))
	got := make([]byte, len("EHLO client.example\r\n"))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "EHLO client.example\r\n" {
		t.Errorf("read %q, %v after the header", got, err)
	}
}

func TestV1IPv6(t *testing.T) {
	f := listen(t, 0, "127.0.0.1/32")
	f.dial(t, "127.0.0.1", []byte("PROXY TCP6 2001:db8::7 2001:db8::1 65535 993\r\n"))
	if got := f.accept(t).RemoteAddr().String(); got != "[2001:db8::7]:65535" {
		t.Errorf("RemoteAddr %s", got)
	}
}

// v2 builds a version 2 header by hand (spec §2.2), independent of the
// parser under test.
func v2(cmd byte, family byte, addrs []byte) []byte {
	b := []byte("\r\n\r\n\x00\r\nQUIT\n")
	b = append(b, 0x20|cmd, family)
	b = binary.BigEndian.AppendUint16(b, uint16(len(addrs)))
	return append(b, addrs...)
}

func TestV2(t *testing.T) {
	f := listen(t, 0, "127.0.0.0/8")
	addrs := []byte{203, 0, 113, 9, 192, 0, 2, 1, 0x30, 0x39, 0x01, 0xbb} // 203.0.113.9:12345 -> 192.0.2.1:443
	tlv := []byte{0x04, 0x00, 0x03, 'a', 'b', 'c'}                        // PP2_TYPE_NOOP, ignored
	f.dial(t, "127.0.0.1", append(v2(1, 0x11, append(addrs, tlv...)), "hello"...))
	c := f.accept(t)
	if got := c.RemoteAddr().String(); got != "203.0.113.9:12345" {
		t.Errorf("RemoteAddr %s, want 203.0.113.9:12345", got)
	}
	if got := c.LocalAddr().String(); got != "192.0.2.1:443" {
		t.Errorf("LocalAddr %s, want 192.0.2.1:443", got)
	}
	c.SetReadDeadline(time.Now().Add(wait))
	got := make([]byte, 5)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "hello" {
		t.Errorf("read %q, %v after the header", got, err)
	}
}

// TestV2Local: the balancer's own health checks keep its address.
func TestV2Local(t *testing.T) {
	f := listen(t, 0, "127.0.0.0/8")
	f.dial(t, "127.0.0.3", v2(0, 0x00, nil))
	c := f.accept(t)
	if got := c.RemoteAddr().(*net.TCPAddr).IP.String(); got != "127.0.0.3" {
		t.Errorf("RemoteAddr %s, want the balancer's own 127.0.0.3", got)
	}
}

func TestUntrustedRefused(t *testing.T) {
	f := listen(t, 0, "127.0.0.2/32")
	bad := f.dial(t, "127.0.0.1", []byte("PROXY TCP4 192.0.2.7 198.51.100.1 4321 25\r\n"))
	f.refusedConn(t, bad, 1)
	// The listener goes on: the trusted balancer gets through.
	f.dial(t, "127.0.0.2", []byte("PROXY TCP4 192.0.2.8 198.51.100.1 4321 25\r\n"))
	if got := f.accept(t).RemoteAddr().String(); got != "192.0.2.8:4321" {
		t.Errorf("RemoteAddr %s", got)
	}
}

func TestBadHeadersRefused(t *testing.T) {
	big := v2(1, 0x11, make([]byte, 4097)) // over the 4 KiB limit
	tests := map[string][]byte{
		"missing":        []byte("EHLO client.example\r\n"),
		"tls first":      {0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00},
		"bad address":    []byte("PROXY TCP4 999.0.2.7 198.51.100.1 4321 25\r\n"),
		"family clash":   []byte("PROXY TCP4 2001:db8::7 198.51.100.1 4321 25\r\n"),
		"bad port":       []byte("PROXY TCP4 192.0.2.7 198.51.100.1 99999 25\r\n"),
		"v1 too long":    []byte("PROXY TCP4 192.0.2.7 198.51.100.1 4321 25" + strings.Repeat(" ", 100) + "\r\n"),
		"v1 bare LF":     []byte("PROXY TCP4 192.0.2.7 198.51.100.1 4321 25\n"),
		"v2 too long":    big,
		"v2 version 3":   append([]byte("\r\n\r\n\x00\r\nQUIT\n\x31\x11\x00\x0c"), make([]byte, 12)...),
		"v2 short addrs": v2(1, 0x11, []byte{203, 0, 113, 9}),
		"v2 unix":        v2(1, 0x31, make([]byte, 216)),
		"v2 udp":         v2(1, 0x12, make([]byte, 12)),
	}
	f := listen(t, 0, "127.0.0.0/8")
	n := int32(0)
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			n++
			c := f.dial(t, "127.0.0.1", data)
			f.refusedConn(t, c, n)
		})
	}
}

// TestSlowHeader: a header that does not arrive in time is refused, and
// meanwhile other connections are accepted.
func TestSlowHeader(t *testing.T) {
	f := listen(t, 300*time.Millisecond, "127.0.0.0/8")
	start := time.Now()
	slow := f.dial(t, "127.0.0.1", v2(1, 0x11, nil)[:14]) // no length yet
	silent := f.dial(t, "127.0.0.1", nil)
	f.dial(t, "127.0.0.1", []byte("PROXY TCP4 192.0.2.9 198.51.100.1 4321 25\r\n"))
	if got := f.accept(t).RemoteAddr().String(); got != "192.0.2.9:4321" {
		t.Errorf("RemoteAddr %s", got)
	}
	f.refusedConn(t, slow, 2) // both time out together
	f.refusedConn(t, silent, 2)
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("refused after %s, before the 300ms timeout", d)
	}
	// A v1 line cut in two is refused at once (spec §2.1 lets a receiver
	// drop partial headers; HAProxy sends the line in one write).
	start = time.Now()
	f.refusedConn(t, f.dial(t, "127.0.0.1", []byte("PROXY TCP4 192.0.2.7 ")), 3)
	if d := time.Since(start); d > 250*time.Millisecond {
		t.Logf("partial v1 line refused after %s (expected at once; the machine may be loaded)", d)
	}
}

// TestClose: Close ends Accept and closes connections still sending
// their header.
func TestClose(t *testing.T) {
	f := listen(t, time.Hour, "127.0.0.0/8")
	c := f.dial(t, "127.0.0.1", v2(1, 0x11, nil)[:14])
	time.Sleep(50 * time.Millisecond) // let the header read start; the test holds either way
	errc := make(chan error, 1)
	go func() { _, err := f.l.Accept(); errc <- err }()
	f.l.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after Close: %v", err)
		}
	case <-time.After(wait):
		t.Fatal("Accept still blocked after Close")
	}
	c.SetReadDeadline(time.Now().Add(wait))
	var ne net.Error
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("pending connection after Close: %v, want closed", err)
	}
	if n := f.refused.Load(); n != 0 {
		t.Errorf("%d refusals counted for a Close", n)
	}
}
