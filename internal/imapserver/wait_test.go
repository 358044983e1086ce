package imapserver

import (
	"context"
	"crypto/tls"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testutil/poll"
)

// The waits of session.loop over TLS: the goroutine that waits parks on
// the socket only once crypto/tls holds no input (pollTLS), and IDLE's
// pushes, Shutdown and the autologout still reach it there.

// tlsIdleClient dials a server with implicit TLS, logs in and selects
// INBOX.
func tlsIdleClient(t *testing.T, addr string, cfg *tls.Config) *client {
	t.Helper()
	c := dial(t, addr)
	c.StartTLS(cfg)
	c.Expect("* OK [CAPABILITY ")
	c.login(alice, alicePW)
	c.ok("s", "SELECT INBOX")
	return c
}

// startImplicitTLS starts a server with implicit TLS; it returns the
// client's TLS configuration with the address.
func startImplicitTLS(t *testing.T, e *testEnv, adjust func(*Server)) (*Server, string, *tls.Config) {
	srvTLS, cliTLS := testTLS(t)
	srv, addr := e.startWith(t, Options{TLSConfig: srvTLS, ImplicitTLS: true}, adjust)
	return srv, addr, cliTLS
}

// TestTLSPipelinedRecord: commands pipelined in one TLS record larger than
// the read buffer are all answered, so is a DONE in the record of its
// IDLE. The commands are 16 octets long after a first one of 7 to 22, so
// that in one of the records a command ends where the read buffer does:
// the session then has nothing buffered while crypto/tls holds the rest
// of the record, and the socket has nothing more to wake a wait on it.
func TestTLSPipelinedRecord(t *testing.T) {
	e := newEnv(t)
	_, addr, cfg := startImplicitTLS(t, e, func(*Server) {})
	cfg = cfg.Clone()
	cfg.DynamicRecordSizingDisabled = true // one write, one record
	c := tlsIdleClient(t, addr, cfg)
	const n = 300 // 4,800 octets
	for pad := range 16 {
		var b strings.Builder
		fmt.Fprintf(&b, "a%s NOOP\r\n", strings.Repeat("x", pad))
		for i := range n {
			fmt.Fprintf(&b, "n%08d NOOP\r\n", i)
		}
		if _, err := c.NC.Write([]byte(b.String())); err != nil {
			t.Fatal(err)
		}
		c.Expect("a" + strings.Repeat("x", pad) + " OK")
		for i := range n {
			c.Expect(fmt.Sprintf("n%08d OK", i))
		}
	}
	if _, err := c.NC.Write([]byte("i IDLE\r\nDONE\r\nz NOOP\r\n")); err != nil {
		t.Fatal(err)
	}
	c.Expect("+ idling")
	c.Expect("i OK IDLE terminated")
	c.Expect("z OK")
}

// TestTLSIdle: over TLS, a delivery reaches an IDLE session as EXISTS and
// DONE ends the IDLE; deleting the selected mailbox ends the session
// during IDLE; the autologout ends an IDLE.
func TestTLSIdle(t *testing.T) {
	e := newEnv(t)
	_, addr, cfg := startImplicitTLS(t, e, func(*Server) {})
	c := tlsIdleClient(t, addr, cfg)
	c.Send("i IDLE")
	c.Expect("+ idling")
	for n := 1; n <= 3; n++ {
		e.deliver(t, e.alice, "Subject: push\r\n\r\nx\r\n")
		c.Expect(fmt.Sprintf("* %d EXISTS", n))
	}
	c.Send("DONE")
	c.Expect("i OK IDLE terminated")
	c.ok("c", "CREATE Tmp")
	c.ok("g", "SELECT Tmp")
	c.Send("j IDLE")
	c.Expect("+ idling")
	other := tlsIdleClient(t, addr, cfg)
	other.ok("d", "DELETE Tmp")
	c.Expect("* BYE Selected mailbox was deleted, closing")
	c.ExpectClosed()

	_, addr, cfg = startImplicitTLS(t, e, func(s *Server) { s.idleTimeout = 2 * time.Second })
	c = tlsIdleClient(t, addr, cfg)
	c.Send("i IDLE")
	c.Expect("+ idling")
	if got := c.Line(); got != "* BYE Autologout; idle for too long" {
		t.Fatalf("autologout in IDLE over TLS: %q", got)
	}
	c.ExpectClosed()
}

// TestTLSShutdownEndsIdle: Shutdown wakes TLS sessions waiting for a
// command and in IDLE.
func TestTLSShutdownEndsIdle(t *testing.T) {
	e := newEnv(t)
	srv, addr, cfg := startImplicitTLS(t, e, func(*Server) {})
	waiting := tlsIdleClient(t, addr, cfg)
	idling := tlsIdleClient(t, addr, cfg)
	idling.Send("i IDLE")
	idling.Expect("+ idling")
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{waiting, idling} {
		c.Expect("* BYE Server shutting down")
		c.ExpectClosed()
	}
}

// TestIdleHoldsOneGoroutine: a session in IDLE holds one goroutine, not
// one for the client's input and one for the mailbox's changes (issue 3:
// memory per idle connection).
func TestIdleHoldsOneGoroutine(t *testing.T) {
	e := newEnv(t)
	_, addr, cfg := startImplicitTLS(t, e, func(*Server) {})
	tlsIdleClient(t, addr, cfg).ok("w", "NOOP") // the mailbox state's own goroutines
	const n = 20
	before := runtime.NumGoroutine()
	var cs []*client
	for range n {
		c := tlsIdleClient(t, addr, cfg)
		c.Send("i IDLE")
		c.Expect("+ idling")
		cs = append(cs, c)
	}
	var got int
	poll.Until(t, testTimeout, "goroutines to settle", func() bool {
		got = runtime.NumGoroutine() - before
		return got <= n
	})
	e.deliver(t, e.alice, "Subject: push\r\n\r\nx\r\n")
	for _, c := range cs {
		c.Expect("* 1 EXISTS")
	}
	poll.Until(t, testTimeout, "goroutines to settle after the push", func() bool {
		got = runtime.NumGoroutine() - before
		return got <= n
	})
}
