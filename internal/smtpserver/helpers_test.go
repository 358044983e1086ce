package smtpserver

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/smtp"
	"github.com/posthorn/posthorn/internal/testutil/linetest"
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
	if opts.Hostname == "" {
		opts.Hostname = "mx.test"
	}
	srv := New(opts, be)
	return srv, linetest.Serve(t, srv, testTimeout)
}

// client is a raw SMTP client for transcripts.
type client struct{ *linetest.Conn }

func dial(t testing.TB, addr string) *client {
	t.Helper()
	return &client{linetest.Dial(t, addr, testTimeout)}
}

// dialGreeted dials and reads the 220 greeting.
func dialGreeted(t testing.TB, addr string) *client {
	t.Helper()
	c := dial(t, addr)
	c.ExpectReply("220 ")
	return c
}
