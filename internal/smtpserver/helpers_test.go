package smtpserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/smtp"
)

// testTimeout bounds every wait in these tests. Generous: a connection
// deadline covers whole dialogs, with several argon2id checks under -race
// on a loaded machine (10 s was seen to run out).
const testTimeout = 30 * time.Second

// fakeBackend accepts recipients at example.test except those starting
// with "unknown" (550 5.1.1) and "fail" (an untyped error), and records
// messages.
type fakeBackend struct {
	mu    sync.Mutex
	msgs  []fakeMsg
	infos []ConnInfo
	// dataStarted, if set, receives a value when Data is entered; Data then
	// waits for dataRelease.
	dataStarted chan struct{}
	dataRelease chan struct{}
	mails       int
	requireTLS  []bool // MailOptions.RequireTLS of each MAIL
}

type fakeMsg struct {
	from    string
	rcpts   []string
	body    []byte
	chunked bool
	txID    string
}

func (b *fakeBackend) NewSession(ci ConnInfo) Session {
	b.mu.Lock()
	b.infos = append(b.infos, ci)
	b.mu.Unlock()
	return &fakeSession{b: b}
}

func (b *fakeBackend) messages() []fakeMsg {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]fakeMsg(nil), b.msgs...)
}

func (b *fakeBackend) mailCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mails
}

type fakeSession struct {
	b     *fakeBackend
	from  string
	rcpts []string
}

func (s *fakeSession) Mail(ctx context.Context, from string, opts MailOptions) error {
	s.b.mu.Lock()
	s.b.mails++
	s.b.requireTLS = append(s.b.requireTLS, opts.RequireTLS)
	s.b.mu.Unlock()
	s.from = from
	return nil
}

func (s *fakeSession) Rcpt(ctx context.Context, to string) error {
	switch {
	case strings.HasPrefix(to, "unknown"):
		return smtp.NewReply(550, smtp.EnhancedCode{5, 1, 1}, "User unknown")
	case strings.HasPrefix(to, "fail"):
		return errors.New("database on fire at /var/secret")
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *fakeSession) Data(ctx context.Context, msg *Message) error {
	if s.b.dataStarted != nil {
		s.b.dataStarted <- struct{}{}
		<-s.b.dataRelease
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.msgs = append(s.b.msgs, fakeMsg{
		from: s.from, rcpts: append([]string(nil), s.rcpts...),
		body: append([]byte(nil), msg.Body()...), chunked: msg.Chunked, txID: msg.TxID,
	})
	return nil
}

func (s *fakeSession) Reset() { s.from, s.rcpts = "", nil }
func (s *fakeSession) Close() {}

// startServer serves opts and be on a loopback port and shuts the server
// down when the test ends.
func startServer(t testing.TB, opts Options, be Backend) (*Server, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if opts.Hostname == "" {
		opts.Hostname = "mx.test"
	}
	srv := New(opts, be)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(testTimeout):
			t.Errorf("Serve did not return %v after Shutdown", testTimeout)
		}
	})
	return srv, l.Addr().String()
}

// client is a raw SMTP client for transcripts.
type client struct {
	t  testing.TB
	nc net.Conn
	r  *bufio.Reader
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(testTimeout))
	return &client{t: t, nc: nc, r: bufio.NewReader(nc)}
}

// dialGreeted dials and reads the 220 greeting.
func dialGreeted(t testing.TB, addr string) *client {
	t.Helper()
	c := dial(t, addr)
	c.expect("220 ")
	return c
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatalf("write %q: %v", s, err)
	}
}

// reply reads one (possibly multi-line) reply and returns all its lines.
func (c *client) reply() ([]string, error) {
	var lines []string
	for {
		l, err := c.r.ReadString('\n')
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

// expect reads a reply whose last line starts with prefix and returns it.
func (c *client) expect(prefix string) string {
	c.t.Helper()
	lines, err := c.reply()
	if err != nil {
		c.t.Fatalf("waiting for %q: got %q, %v", prefix, lines, err)
	}
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, prefix) {
		c.t.Fatalf("got reply %q, want prefix %q", lines, prefix)
	}
	return last
}

// expectClosed asserts the server closed the connection.
func (c *client) expectClosed() {
	c.t.Helper()
	l, err := c.r.ReadString('\n')
	if err == nil {
		c.t.Fatalf("got %q, want the connection closed", l)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("connection still open after %v", testTimeout)
	}
}

// waitFor polls cond until it holds or testTimeout passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", testTimeout, what)
		}
		time.Sleep(time.Millisecond)
	}
}
