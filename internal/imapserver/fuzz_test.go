package imapserver

import (
	"bytes"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fuzzConn is an in-memory connection for FuzzSession: reads come from
// the fuzzer's input, then EOF; writes are collected.
type fuzzConn struct {
	in *bytes.Reader
	// closed is closed by the first Close: the session has ended (it
	// runs on goroutines of its own, see session.loop).
	closed    chan struct{}
	closeOnce sync.Once

	mu  sync.Mutex
	out bytes.Buffer
}

func (c *fuzzConn) Read(b []byte) (int, error) { return c.in.Read(b) }
func (c *fuzzConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(b)
}
func (c *fuzzConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return nil
}
func (c *fuzzConn) LocalAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 143} }
func (c *fuzzConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
}
func (c *fuzzConn) SetDeadline(time.Time) error      { return nil }
func (c *fuzzConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fuzzConn) SetWriteDeadline(time.Time) error { return nil }

// literalAtEnd matches a line that ends in a literal announcement: the
// command goes on after the literal's octets.
var literalAtEnd = regexp.MustCompile(`~?\{([0-9]{1,9})\+?\}\r?$`)

// hasCompleteCommand reports whether in holds at least one whole command
// line: a line end that is not the announcement of a literal (an input
// like "a LOGIN {0+}\n" is a command still waiting for its arguments).
func hasCompleteCommand(in []byte) bool {
	for len(in) > 0 {
		nl := bytes.IndexByte(in, '\n')
		if nl < 0 {
			return false
		}
		m := literalAtEnd.FindSubmatch(in[:nl])
		if m == nil {
			return true
		}
		n, _ := strconv.Atoi(string(m[1]))
		in = in[nl+1:]
		if n >= len(in) {
			return false
		}
		in = in[n:]
	}
	return false
}

// FuzzSession runs a session on the fuzzer's bytes as client input: it
// never panics, ends when the input does, writes only CRLF-terminated
// lines, and answers every complete command it reads.
func FuzzSession(f *testing.F) {
	login := `a LOGIN alice@example.test "alice pw with spaces"` + "\r\n"
	for _, s := range []string{
		"a CAPABILITY\r\nb NOOP\r\nc LOGOUT\r\n",
		login + "b LIST \"\" *\r\nc CREATE foo/bar\r\nd RENAME foo baz\r\ne DELETE baz\r\nf STATUS INBOX (MESSAGES SIZE)\r\n",
		login + "b APPEND INBOX {5}\r\nhello\r\nc APPEND INBOX {3+}\r\nabc\r\nd GETQUOTAROOT INBOX\r\n",
		login + "b ENABLE IMAP4rev2 QRESYNC\r\nc LIST (SUBSCRIBED RECURSIVEMATCH) \"\" % RETURN (STATUS (MESSAGES))\r\n",
		login + "b SELECT INBOX\r\nc FETCH 1:* (FLAGS)\r\nd IDLE\r\nDONE\r\ne CLOSE\r\n",
		login + "b RENAME INBOX old\r\nc SUBSCRIBE old\r\nd LSUB \"\" *\r\n",
		"a AUTHENTICATE PLAIN\r\n" + "AGFsaWNlQGV4YW1wbGUudGVzdABhbGljZSBwdyB3aXRoIHNwYWNlcw==\r\nb NOOP\r\n",
		"a AUTHENTICATE SCRAM-SHA-256 biwsbj1hbGljZUBleGFtcGxlLnRlc3Qscj1hYmNk\r\n*\r\n",
		"a STARTTLS\r\n\x16\x03\x01\x00\x05hello",
		"GET / HTTP/1.1\r\n\r\n",
		"\x00\xff\r\n\r\n\n\r{5}\r\n" + strings.Repeat("A", 700) + "\r\n",
		"a LOGIN {5+}\r\nalice {3}\r\n",
	} {
		f.Add([]byte(s))
	}
	e := newEnv(f)
	e.auth.fast = true
	srvTLS, _ := testTLS(f)
	srv := New(Options{AllowPlaintextAuth: true, TLSConfig: srvTLS, MaxLineLength: MinMaxLineLength, MaxMessageSize: 4096}, e.st, e.auth)
	e.deliver(f, e.alice, "Subject: one\r\n\r\nbody\r\n")

	f.Fuzz(func(t *testing.T, in []byte) {
		conn := &fuzzConn{in: bytes.NewReader(in), closed: make(chan struct{})}
		sess, ok := srv.conns.Admit(conn, func(nc net.Conn, ip netip.Addr) *session { return newSession(srv, nc, ip) })
		if !ok {
			t.Fatal("session refused")
		}
		go sess.serve()
		select {
		case <-conn.closed:
		case <-time.After(testTimeout):
			t.Fatalf("session did not end within %v of its input", testTimeout)
		}
		conn.mu.Lock()
		out := conn.out.String()
		conn.mu.Unlock()
		if !strings.HasSuffix(out, "\r\n") {
			t.Fatalf("output %q does not end in CRLF", out)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n")
		if !strings.HasPrefix(lines[0], "* OK [CAPABILITY ") {
			t.Fatalf("greeting %q", lines[0])
		}
		for _, l := range lines {
			if strings.ContainsAny(l, "\r\n") && !strings.Contains(l, "{") {
				t.Fatalf("bare CR or LF in %q", l)
			}
		}
		if hasCompleteCommand(in) && len(lines) < 2 && !bytes.HasPrefix(in, []byte("a STARTTLS")) {
			t.Fatalf("no answer to %q", in)
		}
	})
}
