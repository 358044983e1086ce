package pop3server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testutil/poll"
)

func TestMaxConnectionsPerIP(t *testing.T) {
	e := newEnv(t)
	_, addr := e.start(t, Options{AllowPlaintextAuth: true, MaxConnectionsPerIP: 2})
	c1 := dialGreeted(t, addr)
	dialGreeted(t, addr)
	c3 := dial(t, addr)
	c3.Expect("-ERR [SYS/TEMP] Too many connections")
	c3.ExpectClosed()
	// A slot frees when a connection ends.
	c1.cmd("QUIT", "+OK")
	c1.ExpectClosed()
	poll.Until(t, testTimeout, "a free slot", func() bool {
		c := dial(t, addr)
		return strings.HasPrefix(c.Line(), "+OK")
	})
}

func TestMaxConnections(t *testing.T) {
	e := newEnv(t)
	_, addr := e.start(t, Options{AllowPlaintextAuth: true, MaxConnections: 1, MaxConnectionsPerIP: -1})
	dialGreeted(t, addr)
	c := dial(t, addr)
	c.Expect("-ERR [SYS/TEMP] Too many connections")
	c.ExpectClosed()
}

func TestMaxConnectionsPerAccount(t *testing.T) {
	e := newEnv(t)
	_, addr := e.start(t, Options{AllowPlaintextAuth: true, MaxConnectionsPerAccount: 2})
	c1 := dialGreeted(t, addr)
	c1.cmd("USER "+alice, "+OK")
	c2 := dialGreeted(t, addr)
	c2.cmd("USER ALICE@example.test", "+OK")
	c3 := dialGreeted(t, addr)
	c3.cmd("USER "+alice, "-ERR [SYS/TEMP] Too many connections for this account")
	c3.cmd("USER "+bob, "+OK")
	// Naming another account frees the slot.
	c2.cmd("USER "+bob, "+OK")
	c3.cmd("USER "+alice, "+OK")
	c3.cmd("PASS "+alicePW, "+OK Logged in")
}

func TestLineTooLong(t *testing.T) {
	e := newEnv(t)
	_, addr := e.start(t, Options{AllowPlaintextAuth: true, MaxLineLength: 600})
	c := dialGreeted(t, addr)
	c.cmd("USER "+strings.Repeat("a", 600-len("USER \r\n")), "+OK") // exactly the limit
	c.Send("USER " + strings.Repeat("a", 600))
	c.Expect("-ERR Line too long")
	c.ExpectClosed()
}

// RFC 1939 §3 autologout: an idle session is ended, and what it marked is
// not deleted.
func TestAutologout(t *testing.T) {
	e := newEnv(t)
	e.fill(t)
	const idle = time.Second
	_, addr := e.start(t, Options{AllowPlaintextAuth: true, IdleTimeout: idle})
	// The commands go in one write (PIPELINING), so that the session
	// never waits for this goroutine before DELE: one stalled for the
	// idle time between two replies would look like an idle client.
	login := "USER " + alice + "\r\nPASS " + alicePW + "\r\n"
	// A first session has argon2id check the password, which takes
	// seconds under -race, so that the one timed below is quick to log in.
	c := dial(t, addr)
	c.Write(login + "QUIT\r\n")
	c.Expect("+OK ") // the greeting
	c.Expect("+OK ")
	c.Expect("+OK Logged in")
	c.Expect("+OK Bye")
	// The idle time starts once the session has read DELE, so after
	// start, however late this goroutine sees the replies: the autologout
	// cannot come less than idle after start.
	c = dial(t, addr)
	start := time.Now()
	c.Write(login + "DELE 1\r\n")
	c.Expect("+OK ")
	c.Expect("+OK ")
	c.Expect("+OK Logged in")
	c.Expect("+OK Message 1 deleted")
	c.Expect("-ERR Autologout")
	c.ExpectClosed()
	if d := time.Since(start); d < idle {
		t.Errorf("autologout %v after the commands were sent, want at least %v", d, idle)
	}
	// The lock is given back before the connection closes.
	c = dial(t, addr)
	c.Write(login)
	c.Expect("+OK ")
	c.Expect("+OK ")
	c.Expect("+OK Logged in")
	if got := e.inbox(t, e.alice); len(got) != 3 {
		t.Errorf("INBOX has %d messages after autologout, want 3", len(got))
	}
}

// Shutdown ends idle sessions with [SYS/TEMP] and without UPDATE.
func TestShutdown(t *testing.T) {
	e := newEnv(t)
	e.fill(t)
	srv, addr := e.start(t, Options{AllowPlaintextAuth: true})
	c := dialGreeted(t, addr)
	c.login(alice, alicePW)
	c.cmd("DELE 1", "+OK")
	idle := dialGreeted(t, addr)

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, cl := range []*client{c, idle} {
		cl.Expect("-ERR [SYS/TEMP] Server shutting down")
		cl.ExpectClosed()
	}
	if got := e.inbox(t, e.alice); len(got) != 3 {
		t.Errorf("INBOX has %d messages after shutdown, want 3", len(got))
	}
	if err := srv.Serve(nil); err != ErrServerClosed {
		t.Errorf("Serve after Shutdown = %v, want ErrServerClosed", err)
	}
}
