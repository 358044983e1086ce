package imapserver

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Limits (package doc, "Limits"): each answer and that the session goes
// on or ends as it should.

func TestLineTooLong(t *testing.T) {
	e := newEnv(t)
	_, addr := e.start(t, Options{AllowPlaintextAuth: true, MaxLineLength: MinMaxLineLength})
	c := dialGreeted(t, addr)
	c.send("a LOGIN " + strings.Repeat("x", MinMaxLineLength) + " y")
	if got := c.line(); got != "a BAD [TOOBIG] command line too long" {
		t.Fatalf("long line: %q", got)
	}
	c.expect("* BYE ")
	c.expectClosed()
}

func TestAppendLimit(t *testing.T) {
	e := newEnv(t)
	_, addr := e.start(t, Options{AllowPlaintextAuth: true, MaxMessageSize: 1000})
	c := loggedIn(t, addr)
	// RFC 7889 §4: refused before the "+", the session goes on.
	c.transcript("a", "APPEND INBOX {1001}", "a NO [TOOBIG] literal too large")
	c.transcript("b", "STATUS INBOX (APPENDLIMIT)", "* STATUS INBOX (APPENDLIMIT 1000)", "b OK STATUS completed")
	c.send("c APPEND INBOX {12}")
	c.expect("+ ")
	c.send("Subject: x\r\n")
	c.expect("c OK [APPENDUID ")
	// A non-synchronizing literal over the limit is already on its way:
	// the server answers and closes (RFC 7888 §4).
	c.send("d APPEND INBOX {1001+}")
	if got := c.line(); got != "d BAD [TOOBIG] literal too large" {
		t.Fatalf("non-sync literal over the limit: %q", got)
	}
	c.expect("* BYE ")
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
	if got := c3.line(); got != "* BYE [UNAVAILABLE] Too many connections, try again later" {
		t.Fatalf("third connection: %q", got)
	}
	c3.expectClosed()
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
	c.expect("* BYE [UNAVAILABLE] ")
	c.expectClosed()
}

func TestAutologout(t *testing.T) {
	e := newEnv(t)
	_, addr := e.startWith(t, Options{AllowPlaintextAuth: true}, func(s *Server) { s.idleTimeout = 300 * time.Millisecond })
	start := time.Now() // before the server can start its timer
	c := dialGreeted(t, addr)
	if got := c.line(); got != "* BYE Autologout; idle for too long" {
		t.Fatalf("autologout: %q", got)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("autologout after %v, before the timeout", d)
	}
	c.expectClosed()

	// IDLE does not stop the timer (RFC 9051 §5.4).
	c = loggedIn(t, addr)
	c.send("i IDLE")
	c.expect("+ idling")
	if got := c.line(); got != "* BYE Autologout; idle for too long" {
		t.Fatalf("autologout in IDLE: %q", got)
	}
	c.expectClosed()
}

func TestErrorCap(t *testing.T) {
	e := newEnv(t)
	_, addr := e.start(t, Options{AllowPlaintextAuth: true, MaxErrors: 3})
	c := dialGreeted(t, addr)
	c.transcript("a", "FROB", "a BAD unknown command FROB")
	c.transcript("b", "FETCH 1 FLAGS", "b BAD Command not valid in this state")
	// NO answers do not count.
	c.transcript("c", "LOGIN nobody@example.test x", "c NO [AUTHENTICATIONFAILED] Authentication failed")
	c.send("d FROB")
	if got := c.line(); got != "d BAD unknown command FROB" {
		t.Fatalf("third BAD: %q", got)
	}
	if got := c.line(); got != "* BYE Too many invalid commands" {
		t.Fatalf("after the cap: %q", got)
	}
	c.expectClosed()
}

func TestHTTPRequestDropped(t *testing.T) {
	e := newEnv(t)
	c := dialGreeted(t, e.plain(t))
	c.send("GET / HTTP/1.1")
	c.expect("* BYE This is an IMAP server")
	c.expectClosed()
}

func TestShutdownEndsIdleSessions(t *testing.T) {
	e := newEnv(t)
	srv, addr := e.start(t, Options{AllowPlaintextAuth: true})
	waiting := dialGreeted(t, addr)
	idling := loggedIn(t, addr)
	idling.send("i IDLE")
	idling.expect("+ idling")
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	waiting.expect("* BYE Server shutting down")
	waiting.expectClosed()
	idling.expect("* BYE Server shutting down")
	idling.expectClosed()
}

// TestShutdownFinishesCommand: a session in the middle of a command (an
// APPEND whose literal is on its way) finishes it, with its tagged
// answer, before the BYE.
func TestShutdownFinishesCommand(t *testing.T) {
	e := newEnv(t)
	srv, addr := e.start(t, Options{AllowPlaintextAuth: true})
	c := loggedIn(t, addr)
	c.send("a APPEND INBOX {12}")
	c.expect("+ ")
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	waitFor(t, "Shutdown to start", srv.conns.Draining)
	c.send("Subject: x\r\n")
	c.expect("a OK [APPENDUID ")
	c.expect("* BYE Server shutting down")
	c.expectClosed()
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := len(e.inbox(t, e.alice)); n != 1 {
		t.Fatalf("%d messages in INBOX after the APPEND was acknowledged", n)
	}
}
