// Package deliverytest runs SMTP servers that receive outbound mail in
// tests: each listens on its own loopback address (127.0.0.x) with a port
// shared by all of them, as MX hosts on port 25 would, and records what
// it receives. Recipients' local parts script the answers:
//
//	reject...     550 5.1.1 at RCPT
//	temp<N>...    451 4.3.0 at RCPT for the first N attempts (temp2x@)
//	anything else accepted
package deliverytest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one message received.
type Message struct {
	From string
	To   []string
	Data []byte
	UTF8 bool
	Body string // BODY= parameter
	// TLS: the message came over TLS; RequireTLS: with REQUIRETLS.
	TLS, RequireTLS bool
	// User is who logged in with AUTH, "" for nobody.
	User string
	// At is when the message was recorded, after any DataDelay.
	At time.Time
}

// Options configure a Sink.
type Options struct {
	// SMTPUTF8 advertises SMTPUTF8.
	SMTPUTF8 bool
	// DataDelay holds each DATA reply back, to measure concurrency.
	DataDelay time.Duration
	// TLS offers STARTTLS with this configuration; RequireTLS also
	// advertises REQUIRETLS (RFC 8689) inside TLS.
	TLS        *tls.Config
	RequireTLS bool
	// Users, when set, makes the sink a smarthost: AUTH PLAIN (offered
	// inside TLS only) with these user names and passwords is required
	// before MAIL.
	Users map[string]string
}

// Sink is one receiving server.
type Sink struct {
	Addr string // ip:port
	IP   string

	mu        sync.Mutex
	msgs      []Message
	conns     int
	active    int
	maxActive int
	tries     map[string]int
	srv       *smtp.Server
	opts      Options
}

// FreePort returns a port free on every given loopback IP.
func FreePort(t testing.TB, ips ...string) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", ips[0]+":0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ok := true
		var others []net.Listener
		for _, ip := range ips[1:] {
			l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
			if err != nil {
				ok = false
				break
			}
			others = append(others, l)
		}
		ln.Close()
		for _, l := range others {
			l.Close()
		}
		if ok {
			return port
		}
	}
	t.Fatal("no port free on all of", ips)
	return 0
}

// Start runs a sink on ip:port until the test ends.
func Start(t testing.TB, ip string, port int, opts Options) *Sink {
	t.Helper()
	s := &Sink{IP: ip, opts: opts, tries: map[string]int{}}
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = "sink-" + ip
	srv.EnableSMTPUTF8 = opts.SMTPUTF8
	srv.MaxMessageBytes = 10 << 20
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.ErrorLog = discard{}
	srv.TLSConfig = opts.TLS
	srv.EnableREQUIRETLS = opts.RequireTLS
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("deliverytest: listen: %v", err)
	}
	s.Addr = ln.Addr().String()
	s.srv = srv
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

type discard struct{}

func (discard) Printf(string, ...any) {}
func (discard) Println(...any)        {}

// Messages returns what was received so far.
func (s *Sink) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Conns returns how many connections were made.
func (s *Sink) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// MaxActive returns the most sessions open at once.
func (s *Sink) MaxActive() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxActive
}

// Wait waits until n messages arrived or the timeout passes.
func (s *Sink) Wait(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ms := s.Messages()
		if len(ms) >= n {
			return ms
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliverytest %s: %d messages after %v, want %d", s.IP, len(ms), timeout, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *Sink) newSession(c *smtp.Conn) (smtp.Session, error) {
	s.mu.Lock()
	s.conns++
	s.active++
	s.maxActive = max(s.maxActive, s.active)
	s.mu.Unlock()
	return &session{s: s, c: c}, nil
}

type session struct {
	s    *Sink
	c    *smtp.Conn
	msg  Message
	user string
}

// AuthMechanisms implements smtp.AuthSession.
func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.Users == nil {
		return nil
	}
	return []string{sasl.Plain}
}

// Auth implements smtp.AuthSession.
func (ss *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if want, ok := ss.s.opts.Users[user]; !ok || want != pass || identity != "" && identity != user {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication failed"}
		}
		ss.user = user
		return nil
	}), nil
}

func (ss *session) Reset() { ss.msg = Message{} }

func (ss *session) Logout() error {
	ss.s.mu.Lock()
	ss.s.active--
	ss.s.mu.Unlock()
	return nil
}

func (ss *session) Mail(from string, opts *smtp.MailOptions) error {
	if ss.s.opts.Users != nil && ss.user == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	_, overTLS := ss.c.TLSConnectionState()
	ss.msg = Message{From: from, UTF8: opts != nil && opts.UTF8, TLS: overTLS, RequireTLS: opts != nil && opts.RequireTLS}
	if opts != nil {
		ss.msg.Body = string(opts.Body)
	}
	ss.msg.User = ss.user
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	local := strings.ToLower(to[:max(strings.LastIndexByte(to, '@'), 0)])
	switch {
	case strings.HasPrefix(local, "reject"):
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
	case strings.HasPrefix(local, "temp"):
		n, _ := strconv.Atoi(digits(local[4:]))
		ss.s.mu.Lock()
		ss.s.tries[to]++
		try := ss.s.tries[to]
		ss.s.mu.Unlock()
		if try <= n {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: fmt.Sprintf("Try again later (%d)", try)}
		}
	}
	ss.msg.To = append(ss.msg.To, to)
	return nil
}

func digits(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}

func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(ss.msg.To) == 0 {
		return errors.New("no recipients")
	}
	if ss.s.opts.DataDelay > 0 {
		time.Sleep(ss.s.opts.DataDelay)
	}
	ss.msg.Data = b
	ss.msg.At = time.Now()
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, ss.msg)
	ss.s.mu.Unlock()
	return nil
}
