// Package linetest is a raw client for the line protocols (SMTP, POP3,
// IMAP) in tests: it talks to a real server over a real socket, writes
// exactly what the test says and reads CRLF-terminated lines, failing the
// test on any error, on a line without CRLF, or when the deadline passes.
// Protocol packages embed *Conn in their own test client and add what is
// theirs (IMAP tags, POP3 multi-line replies).
package linetest

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// Conn is one client connection. NC and R may be used directly for raw
// access; StartTLS replaces both.
type Conn struct {
	T       testing.TB
	NC      net.Conn
	R       *bufio.Reader
	Timeout time.Duration // the deadline set at Dial, for messages
}

// Dial connects to addr, closes the connection when the test ends, and
// sets a deadline of timeout for the whole conversation.
func Dial(t testing.TB, addr string, timeout time.Duration) *Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return Wrap(t, nc, timeout)
}

// Wrap is Dial for a connection made elsewhere (a TLS dial, a chosen
// source address).
func Wrap(t testing.TB, nc net.Conn, timeout time.Duration) *Conn {
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(timeout))
	return &Conn{T: t, NC: nc, R: bufio.NewReader(nc), Timeout: timeout}
}

// Write writes s as it is.
func (c *Conn) Write(s string) {
	c.T.Helper()
	if _, err := io.WriteString(c.NC, s); err != nil {
		c.T.Fatalf("write %q: %v", s, err)
	}
}

// Send writes line and CRLF.
func (c *Conn) Send(line string) {
	c.T.Helper()
	c.Write(line + "\r\n")
}

// Line reads one line, which must end in CRLF, and returns it without.
func (c *Conn) Line() string {
	c.T.Helper()
	l, err := c.R.ReadString('\n')
	if err != nil {
		c.T.Fatalf("reading a line: got %q, %v", l, err)
	}
	if !strings.HasSuffix(l, "\r\n") {
		c.T.Fatalf("line %q does not end in CRLF", l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// Expect reads a line that starts with prefix and returns it.
func (c *Conn) Expect(prefix string) string {
	c.T.Helper()
	l := c.Line()
	if !strings.HasPrefix(l, prefix) {
		c.T.Fatalf("got %q, want prefix %q", l, prefix)
	}
	return l
}

// ExpectClosed asserts the server closed the connection (EOF or reset,
// not the deadline).
func (c *Conn) ExpectClosed() {
	c.T.Helper()
	l, err := c.R.ReadString('\n')
	if err == nil {
		c.T.Fatalf("got %q, want the connection closed", l)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.T.Fatalf("connection still open after %v", c.Timeout)
	}
}

// StartTLS runs a TLS client handshake on the connection, after the
// protocol's STARTTLS/STLS exchange, and reads from TLS from then on.
func (c *Conn) StartTLS(cfg *tls.Config) {
	c.T.Helper()
	tc := tls.Client(c.NC, cfg)
	if err := tc.Handshake(); err != nil {
		c.T.Fatalf("TLS handshake: %v", err)
	}
	c.NC, c.R = tc, bufio.NewReader(tc)
}

// Reply reads one SMTP reply (RFC 5321 section 4.2: "ddd-" lines, then a
// "ddd " line) and returns its lines without CRLF. A line without CRLF or
// without a code and separator is an error.
func (c *Conn) Reply() ([]string, error) {
	var lines []string
	for {
		l, err := c.R.ReadString('\n')
		if err != nil {
			return lines, err
		}
		if !strings.HasSuffix(l, "\r\n") {
			return lines, fmt.Errorf("reply line %q does not end in CRLF", l)
		}
		l = strings.TrimSuffix(l, "\r\n")
		lines = append(lines, l)
		if len(l) < 4 || (l[3] != ' ' && l[3] != '-') {
			return lines, fmt.Errorf("malformed reply line %q", l)
		}
		if l[3] == ' ' {
			return lines, nil
		}
	}
}

// ExpectReplyLines reads one SMTP reply whose last line starts with
// prefix and returns all its lines.
func (c *Conn) ExpectReplyLines(prefix string) []string {
	c.T.Helper()
	lines, err := c.Reply()
	if err != nil {
		c.T.Fatalf("waiting for %q: got %q, %v", prefix, lines, err)
	}
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, prefix) {
		c.T.Fatalf("got reply %q, want prefix %q", lines, prefix)
	}
	return lines
}

// ExpectReply is ExpectReplyLines returning the last line.
func (c *Conn) ExpectReply(prefix string) string {
	c.T.Helper()
	lines := c.ExpectReplyLines(prefix)
	return lines[len(lines)-1]
}
