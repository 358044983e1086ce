package smtpserver

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/certs/certstest"
	"github.com/posthorn/posthorn/internal/testutil/linetest"
	"github.com/posthorn/posthorn/internal/testutil/poll"
)

// TestSTARTTLSDropsPipelinedCommands checks RFC 3207 §4.2: a command sent
// in plain text behind STARTTLS must not run after the TLS handshake.
func TestSTARTTLSDropsPipelinedCommands(t *testing.T) {
	t.Parallel()
	srvTLS, cliTLS := certstest.SelfSigned(t, "mx.test")
	be := &fakeBackend{}
	_, addr := startServer(t, Options{TLSConfig: srvTLS}, be)
	c := dialGreeted(t, addr)
	c.Write("EHLO client.test\r\n")
	c.ExpectReply("250 ")
	c.Write("STARTTLS\r\nMAIL FROM:<a@b.test>\r\n")
	c.ExpectReply("220 ")
	c.StartTLS(cliTLS)
	c.Write("EHLO client.test\r\n")
	lines, err := c.Reply()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.Join(lines, "\n"), "STARTTLS") {
		t.Errorf("STARTTLS advertised inside TLS: %q", lines)
	}
	// Had the MAIL run, this RCPT would be accepted.
	c.Write("RCPT TO:<c@d.test>\r\n")
	c.ExpectReply("502 5.5.1")
	if n := be.mailCount(); n != 0 {
		t.Errorf("backend saw %d MAIL commands, want 0", n)
	}
	c.Write("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n")
	c.ExpectReply("250 ")
	c.ExpectReply("250 ")
	c.ExpectReply("354 ")
	c.Write("x: y\r\n\r\nz\r\n.\r\n")
	c.ExpectReply("250 ")
	be.mu.Lock()
	defer be.mu.Unlock()
	last := be.infos[len(be.infos)-1]
	if last.TLS == nil || last.TLS.Version != tls.VersionTLS13 {
		t.Errorf("session after STARTTLS: TLS state %+v", last.TLS)
	}
}

func TestImplicitTLS(t *testing.T) {
	t.Parallel()
	srvTLS, cliTLS := certstest.SelfSigned(t, "mx.test")
	_, addr := startServer(t, Options{TLSConfig: srvTLS, ImplicitTLS: true}, &fakeBackend{})
	tc, err := tls.DialWithDialer(&net.Dialer{Timeout: testTimeout}, "tcp", addr, cliTLS)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{linetest.Wrap(t, tc, testTimeout)}
	c.ExpectReply("220 ")
	c.Write("EHLO client.test\r\n")
	lines, _ := c.Reply()
	if strings.Contains(strings.Join(lines, "\n"), "STARTTLS") {
		t.Errorf("STARTTLS advertised with implicit TLS: %q", lines)
	}
}

func TestConnectionLimits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"total", Options{MaxConnections: 2, MaxConnectionsPerIP: -1}},
		{"per IP", Options{MaxConnections: -1, MaxConnectionsPerIP: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, addr := startServer(t, tc.opts, &fakeBackend{})
			c1 := dialGreeted(t, addr)
			c2 := dialGreeted(t, addr)
			c3 := dial(t, addr)
			c3.ExpectReply("421 4.7.0 mx.test Too many connections, try again later")
			c3.ExpectClosed()
			// A slot frees up when a connection ends.
			c1.Write("QUIT\r\n")
			c1.ExpectReply("221 ")
			c1.ExpectClosed()
			var c4 *client
			poll.Until(t, testTimeout, "a connection slot after QUIT", func() bool {
				c4 = dial(t, addr)
				lines, err := c4.Reply()
				return err == nil && strings.HasPrefix(lines[0], "220 ")
			})
			c2.Write("NOOP\r\n")
			c2.ExpectReply("250 ")
			c4.Write("NOOP\r\n")
			c4.ExpectReply("250 ")
		})
	}
}

func TestCommandTimeout(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, Options{CommandTimeout: 200 * time.Millisecond}, &fakeBackend{})
	c := dialGreeted(t, addr)
	c.Write("EHLO client.test\r\n")
	c.ExpectReply("250 ")
	start := time.Now()
	c.ExpectReply("421 4.4.2")
	c.ExpectClosed()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("timeout took %v", d)
	}
}

// TestDataBlockTimeout: a client trickling data keeps the session alive
// past the command timeout, one that stalls is cut off after the block
// timeout, and what it sends afterwards is never read as commands.
func TestDataBlockTimeout(t *testing.T) {
	t.Parallel()
	be := &fakeBackend{}
	_, addr := startServer(t, Options{
		CommandTimeout:   300 * time.Millisecond,
		DataBlockTimeout: 300 * time.Millisecond,
		DataTotalTimeout: 5 * time.Second,
	}, be)
	c := dialGreeted(t, addr)
	c.Write("EHLO client.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n")
	c.ExpectReply("250 ")
	c.ExpectReply("250 ")
	c.ExpectReply("250 ")
	c.ExpectReply("354 ")
	// Trickle for longer than the command timeout: each read restarts the
	// block timeout.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 0; i < 6; i++ {
		<-tick.C
		c.Write("line\r\n")
	}
	c.Write(".\r\n")
	c.ExpectReply("250 2.0.0")
	// Now stall inside DATA.
	c.Write("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n")
	c.ExpectReply("250 ")
	c.ExpectReply("250 ")
	c.ExpectReply("354 ")
	c.Write("partial\r\n")
	c.ExpectReply("421 4.4.2")
	c.ExpectClosed()
	if n := len(be.messages()); n != 1 {
		t.Errorf("stored %d messages, want 1", n)
	}
}

func TestDataTotalTimeout(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, Options{
		DataBlockTimeout: 5 * time.Second,
		DataTotalTimeout: 400 * time.Millisecond,
	}, &fakeBackend{})
	c := dialGreeted(t, addr)
	c.Write("EHLO client.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n")
	for _, w := range []string{"250 ", "250 ", "250 ", "354 "} {
		c.ExpectReply(w)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := c.NC.Write([]byte("more\r\n")); err != nil {
					return
				}
			}
		}
	}()
	c.ExpectReply("421 4.4.2")
	c.ExpectClosed()
}

// TestShutdownFinishesTransaction: Shutdown lets a transaction in flight
// complete (its DATA gets 250 and is stored), closes idle sessions at once
// with 421, and refuses new connections.
func TestShutdownFinishesTransaction(t *testing.T) {
	t.Parallel()
	be := &fakeBackend{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := New(Options{Hostname: "mx.test"}, be)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	addr := l.Addr().String()

	busy := dialGreeted(t, addr)
	busy.Write("EHLO client.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n")
	for _, w := range []string{"250 ", "250 ", "250 ", "354 "} {
		busy.ExpectReply(w)
	}
	busy.Write("Subject: in flight\r\n\r\nfirst half\r\n")

	idle := dialGreeted(t, addr)
	idle.Write("EHLO client.test\r\n")
	idle.ExpectReply("250 ")

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(ctx) }()

	idle.ExpectReply("421 ")
	idle.ExpectClosed()

	busy.Write("second half\r\n.\r\n")
	busy.ExpectReply("250 2.0.0 Ok: queued as ")
	busy.ExpectReply("421 ")
	busy.ExpectClosed()

	select {
	case err := <-shut:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Shutdown did not return")
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	msgs := be.messages()
	if len(msgs) != 1 || string(msgs[0].body) != "Subject: in flight\r\n\r\nfirst half\r\nsecond half\r\n" {
		t.Fatalf("stored %+v", msgs)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("listener still accepts after Shutdown")
	}
}

// TestShutdownDeadline: a transaction that does not finish is cut off when
// the context ends.
func TestShutdownDeadline(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := New(Options{Hostname: "mx.test"}, &fakeBackend{})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	c := dialGreeted(t, l.Addr().String())
	c.Write("EHLO client.test\r\nMAIL FROM:<a@b.test>\r\n")
	c.ExpectReply("250 ")
	c.ExpectReply("250 ")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want deadline exceeded", err)
	}
	c.ExpectClosed()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

func TestBareNewline(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		"":                 false,
		"a\r\nb\r\n":       false,
		"\r\n":             false,
		"a\nb":             true,
		"a\rb":             true,
		"a\r":              true,
		"\n":               true,
		"a\r\r\n":          true,
		"a\r\n\n":          true,
		"x\r\n.\r\ny\r\n":  false,
		"\r\n\r\n\r\n\r\n": false,
	} {
		if got := hasBareNewline([]byte(in)); got != want {
			t.Errorf("hasBareNewline(%q) = %v, want %v", in, got, want)
		}
	}
}
