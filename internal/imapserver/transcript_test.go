package imapserver

import (
	"strings"
	"testing"
)

// Transcripts of the commands of any state and of the not-authenticated
// state (RFC 9051 §6.1, §6.2), exact to the octet.

const (
	preAuthCapsTLS   = "IMAP4rev1 IMAP4rev2 AUTH=SCRAM-SHA-256-PLUS AUTH=SCRAM-SHA-256 AUTH=PLAIN AUTH=LOGIN LITERAL+ ENABLE IDLE ID SASL-IR"
	preAuthCapsPlain = "IMAP4rev1 IMAP4rev2 STARTTLS LOGINDISABLED LITERAL+ ENABLE IDLE ID SASL-IR"
)

func loggedInCapsString() string {
	return "IMAP4rev1 IMAP4rev2 LITERAL+ ENABLE IDLE ID SASL-IR " + strings.Join(loggedInCaps, " ") + " APPENDLIMIT=52428800"
}

func TestGreetingAndCapabilityBeforeTLS(t *testing.T) {
	e := newEnv(t)
	srvTLS, _ := testTLS(t)
	_, addr := e.start(t, Options{TLSConfig: srvTLS})
	c := dial(t, addr)
	if got, want := c.Line(), "* OK [CAPABILITY "+preAuthCapsPlain+"] posthorn IMAP4rev2 server ready"; got != want {
		t.Fatalf("greeting %q, want %q", got, want)
	}
	c.transcript("a1", "CAPABILITY", "* CAPABILITY "+preAuthCapsPlain, "a1 OK CAPABILITY completed")
	c.transcript("a2", "NOOP", "a2 OK NOOP completed")
	// RFC 9051 §6.2.3: LOGINDISABLED, so LOGIN and AUTHENTICATE are refused.
	c.transcript("a3", `LOGIN alice@example.test "alice pw with spaces"`,
		"a3 NO [PRIVACYREQUIRED] Plaintext authentication disallowed without TLS; use STARTTLS")
	c.transcript("a4", "AUTHENTICATE PLAIN", "a4 NO [PRIVACYREQUIRED] Plaintext authentication disallowed without TLS; use STARTTLS")
	c.transcript("a5", "SELECT INBOX", "a5 BAD Command not valid in this state")
	c.transcript("a6", "LOGOUT", "* BYE Logging out", "a6 OK LOGOUT completed")
	c.ExpectClosed()
}

func TestStartTLSThenLogin(t *testing.T) {
	e := newEnv(t)
	srvTLS, cliTLS := testTLS(t)
	_, addr := e.start(t, Options{TLSConfig: srvTLS})
	c := dialGreeted(t, addr)
	// A command pipelined behind STARTTLS is discarded, never run
	// (CVE-2011-0411).
	c.Send("t1 STARTTLS\r\nt2 LOGIN alice@example.test \"alice pw with spaces\"")
	if got := c.Line(); got != "t1 OK Begin TLS negotiation now" {
		t.Fatalf("STARTTLS: %q", got)
	}
	c.StartTLS(cliTLS)
	c.transcript("t3", "CAPABILITY", "* CAPABILITY "+preAuthCapsTLS, "t3 OK CAPABILITY completed")
	c.transcript("t4", "STARTTLS", "t4 BAD STARTTLS not available")
	c.transcript("t5", `LOGIN alice@example.test "alice pw with spaces"`,
		"t5 OK [CAPABILITY "+loggedInCapsString()+"] Logged in")
	c.transcript("t6", "CAPABILITY", "* CAPABILITY "+loggedInCapsString(), "t6 OK CAPABILITY completed")
	c.transcript("t7", `LOGIN alice@example.test "alice pw with spaces"`, "t7 BAD Command not valid in this state")
}

func TestImplicitTLS(t *testing.T) {
	e := newEnv(t)
	srvTLS, cliTLS := testTLS(t)
	_, addr := e.start(t, Options{TLSConfig: srvTLS, ImplicitTLS: true})
	c := dial(t, addr)
	c.StartTLS(cliTLS)
	if got, want := c.Line(), "* OK [CAPABILITY "+preAuthCapsTLS+"] posthorn IMAP4rev2 server ready"; got != want {
		t.Fatalf("greeting %q, want %q", got, want)
	}
	c.login(alice, alicePW)
}

func TestLoginFailures(t *testing.T) {
	e := newEnv(t)
	addr := e.plain(t)
	c := dialGreeted(t, addr)
	c.transcript("a", `LOGIN alice@example.test wrong`, "a NO [AUTHENTICATIONFAILED] Authentication failed")
	c.transcript("b", `LOGIN throttled@example.test x`, "b NO [UNAVAILABLE] Too many failed logins, try again later")
	// The third failure ends the session; the internal error's text never
	// reaches the client.
	c.transcript("c", `LOGIN broken@example.test x`, "c NO [UNAVAILABLE] Authentication temporarily unavailable")
	if got := c.Line(); got != "* BYE Too many failed logins" {
		t.Fatalf("after 3 failures: %q", got)
	}
	c.ExpectClosed()
}

func TestLoginLiteralPassword(t *testing.T) {
	e := newEnv(t)
	addr := e.plain(t)
	c := dialGreeted(t, addr)
	c.Send("a LOGIN {18}")
	c.Expect("+ ")
	c.Send(`alice@example.test {20}`)
	c.Expect("+ ")
	c.Send(alicePW)
	c.Expect("a OK [CAPABILITY ")
}

func TestBadCommands(t *testing.T) {
	e := newEnv(t)
	addr := e.plain(t)
	c := dialGreeted(t, addr)
	c.transcript("a", "FROB", "a BAD unknown command FROB")
	c.transcript("b", "LOGIN", "b BAD expected ' '")
	c.Send("")
	if got := c.Line(); !strings.HasPrefix(got, "* BAD ") {
		t.Fatalf("empty line: %q", got)
	}
}

func TestID(t *testing.T) {
	e := newEnv(t)
	c := dialGreeted(t, e.plain(t))
	// RFC 2971 §3.1 example.
	c.transcript("a023", `ID ("name" "sodr" "version" "19.34" "vendor" "Pink Floyd Music Limited")`,
		`* ID ("name" "posthorn")`, "a023 OK ID completed")
	c.transcript("a024", `ID NIL`, `* ID ("name" "posthorn")`, "a024 OK ID completed")
}
