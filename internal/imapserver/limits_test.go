package imapserver

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testutil/poll"
)

// Limits (package doc, "Limits"): each answer and that the session goes
// on or ends as it should.

func TestLineTooLong(t *testing.T) {
	e := newEnv(t)
	_, addr := e.start(t, Options{AllowPlaintextAuth: true, MaxLineLength: MinMaxLineLength})
	c := dialGreeted(t, addr)
	c.Send("a LOGIN " + strings.Repeat("x", MinMaxLineLength) + " y")
	if got := c.Line(); got != "a BAD [TOOBIG] command line too long" {
		t.Fatalf("long line: %q", got)
	}
	c.Expect("* BYE ")
	c.ExpectClosed()
}

func TestAppendLimit(t *testing.T) {
	e := newEnv(t)
	_, addr := e.start(t, Options{AllowPlaintextAuth: true, MaxMessageSize: 1000})
	c := loggedIn(t, addr)
	// RFC 7889 §4: refused before the "+", the session goes on.
	c.transcript("a", "APPEND INBOX {1001}", "a NO [TOOBIG] literal too large")
	c.transcript("b", "STATUS INBOX (APPENDLIMIT)", "* STATUS INBOX (APPENDLIMIT 1000)", "b OK STATUS completed")
	c.Send("c APPEND INBOX {12}")
	c.Expect("+ ")
	c.Send("Subject: x\r\n")
	c.Expect("c OK [APPENDUID ")
	// A non-synchronizing literal over the limit is already on its way:
	// the server answers and closes (RFC 7888 §4).
	c.Send("d APPEND INBOX {1001+}")
	if got := c.Line(); got != "d BAD [TOOBIG] literal too large" {
		t.Fatalf("non-sync literal over the limit: %q", got)
	}
	c.Expect("* BYE ")
}

func TestAppendBeforeLogin(t *testing.T) {
	e := newEnv(t)
	c := dialGreeted(t, e.plain(t))
	c.transcript("a", "APPEND INBOX {10}", "a BAD Log in first")
	c.transcript("b", "NOOP", "b OK NOOP completed")
}

func TestConnectionLimits(t *testing.T) {
	e := newEnv(t)
	_, addr := e.start(t, Options{AllowPlaintextAuth: true, MaxConnections: 2, MaxConnectionsPerIP: 2, MaxConnectionsPerAccount: 1})
	c1 := loggedIn(t, addr)
	c2 := dialGreeted(t, addr)
	c3 := dial(t, addr)
	if got := c3.Line(); got != "* BYE [UNAVAILABLE] Too many connections, try again later" {
		t.Fatalf("third connection: %q", got)
	}
	c3.ExpectClosed()
	// One session per account: the second login is refused, then allowed
	// once the first has gone.
	c2.transcript("a", `LOGIN alice@example.test "alice pw with spaces"`, "a NO [LIMIT] Too many connections for this account, try again later")
	c1.ok("z", "LOGOUT")
	deadline := time.Now().Add(testTimeout)
	for {
		got := c2.run("b", `LOGIN alice@example.test "alice pw with spaces"`)
		if strings.HasPrefix(got[len(got)-1], "b OK") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("login after the first session ended: %q", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestConnectionLimitPerIP(t *testing.T) {
	e := newEnv(t)
	_, addr := e.start(t, Options{MaxConnectionsPerIP: 1})
	dialGreeted(t, addr)
	c := dial(t, addr)
	c.Expect("* BYE [UNAVAILABLE] ")
	c.ExpectClosed()
}

func TestAutologout(t *testing.T) {
	e := newEnv(t)
	_, addr := e.startWith(t, Options{AllowPlaintextAuth: true}, func(s *Server) { s.idleTimeout = 300 * time.Millisecond })
	start := time.Now() // before the server can start its timer
	c := dialGreeted(t, addr)
	if got := c.Line(); got != "* BYE Autologout; idle for too long" {
		t.Fatalf("autologout: %q", got)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("autologout after %v, before the timeout", d)
	}
	c.ExpectClosed()

	// IDLE does not stop the timer (RFC 9051 §5.4).
	c = loggedIn(t, addr)
	c.Send("i IDLE")
	c.Expect("+ idling")
	if got := c.Line(); got != "* BYE Autologout; idle for too long" {
		t.Fatalf("autologout in IDLE: %q", got)
	}
	c.ExpectClosed()
}

func TestErrorCap(t *testing.T) {
	e := newEnv(t)
	_, addr := e.start(t, Options{AllowPlaintextAuth: true, MaxErrors: 3})
	c := dialGreeted(t, addr)
	c.transcript("a", "FROB", "a BAD unknown command FROB")
	c.transcript("b", "FETCH 1 FLAGS", "b BAD Command not valid in this state")
	// NO answers do not count.
	c.transcript("c", "LOGIN nobody@example.test x", "c NO [AUTHENTICATIONFAILED] Authentication failed")
	c.Send("d FROB")
	if got := c.Line(); got != "d BAD unknown command FROB" {
		t.Fatalf("third BAD: %q", got)
	}
	if got := c.Line(); got != "* BYE Too many invalid commands" {
		t.Fatalf("after the cap: %q", got)
	}
	c.ExpectClosed()
}

func TestHTTPRequestDropped(t *testing.T) {
	e := newEnv(t)
	c := dialGreeted(t, e.plain(t))
	c.Send("GET / HTTP/1.1")
	c.Expect("* BYE This is an IMAP server")
	c.ExpectClosed()
}

func TestShutdownEndsIdleSessions(t *testing.T) {
	e := newEnv(t)
	srv, addr := e.start(t, Options{AllowPlaintextAuth: true})
	waiting := dialGreeted(t, addr)
	idling := loggedIn(t, addr)
	idling.Send("i IDLE")
	idling.Expect("+ idling")
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	waiting.Expect("* BYE Server shutting down")
	waiting.ExpectClosed()
	idling.Expect("* BYE Server shutting down")
	idling.ExpectClosed()
}

// TestShutdownFinishesCommand: a session in the middle of a command (an
// APPEND whose literal is on its way) finishes it, with its tagged
// answer, before the BYE.
func TestShutdownFinishesCommand(t *testing.T) {
	e := newEnv(t)
	srv, addr := e.start(t, Options{AllowPlaintextAuth: true})
	c := loggedIn(t, addr)
	c.Send("a APPEND INBOX {12}")
	c.Expect("+ ")
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	poll.Until(t, testTimeout, "Shutdown to start", srv.conns.Draining)
	c.Send("Subject: x\r\n")
	c.Expect("a OK [APPENDUID ")
	c.Expect("* BYE Server shutting down")
	c.ExpectClosed()
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := len(e.inbox(t, e.alice)); n != 1 {
		t.Fatalf("%d messages in INBOX after the APPEND was acknowledged", n)
	}
}
