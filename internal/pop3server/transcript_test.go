package pop3server

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/store"
)

// runScript plays a dialog on c. "C: text" is sent with CRLF; "S: text"
// must be the next line received, exactly, or as a prefix when it ends in
// "*". Leading white space and empty lines are ignored.
func runScript(t *testing.T, c *client, script string) {
	t.Helper()
	for _, l := range strings.Split(script, "\n") {
		l = strings.TrimLeft(l, " \t")
		switch {
		case l == "":
		case strings.HasPrefix(l, "C: "):
			c.Send(strings.TrimPrefix(l, "C: "))
		case strings.HasPrefix(l, "S: "):
			want := strings.TrimPrefix(l, "S: ")
			got := c.Line()
			if prefix, ok := strings.CutSuffix(want, "*"); ok {
				if !strings.HasPrefix(got, prefix) {
					t.Fatalf("got %q, want prefix %q", got, prefix)
				}
			} else if got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		default:
			t.Fatalf("bad script line %q", l)
		}
	}
}

// Messages with the cases that matter on the wire: lines starting with
// ".", a line that is only ".", an empty body.
const (
	msg1 = "From: a@b.test\r\nTo: alice@example.test\r\nSubject: one\r\n\r\nHello\r\n.leading dot\r\n..two dots\r\n.\r\nend\r\n"
	msg2 = "Subject: two\r\n\r\nline1\r\nline2\r\nline3\r\n"
	msg3 = "Subject: three\r\n\r\n"
)

// fill delivers msg1-msg3 to alice and returns the UIDL values.
func (e *testEnv) fill(t *testing.T) []string {
	t.Helper()
	var ids []string
	mb, err := e.st.Mailbox(context.Background(), e.alice.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{msg1, msg2, msg3} {
		m := e.deliver(t, e.alice, b)
		ids = append(ids, fmt.Sprintf("%d.%d", mb.UIDValidity, m.ID))
	}
	return ids
}

func TestTranscriptCommands(t *testing.T) {
	e := newEnv(t)
	uidl := e.fill(t)
	_, addr := e.start(t, Options{AllowPlaintextAuth: true})
	total := len(msg1) + len(msg2) + len(msg3)
	c := dial(t, addr)
	runScript(t, c, fmt.Sprintf(`
		S: +OK pop.test POP3 server ready
		C: CAPA
		S: +OK Capability list follows
		S: TOP
		S: UIDL
		S: USER
		S: SASL PLAIN
		S: RESP-CODES
		S: AUTH-RESP-CODE
		S: PIPELINING
		S: EXPIRE NEVER
		S: IMPLEMENTATION posthorn
		S: .
		C: STAT
		S: -ERR Unknown command in this state
		C: NOOP
		S: -ERR Unknown command in this state
		C: PASS x
		S: -ERR Send USER first
		C: APOP alice@example.test c4c9334bac560ecc979e58001b3e22fb
		S: -ERR APOP is not supported*
		C: USER alice@example.test
		S: +OK Send PASS
		C: PASS alice pw with spaces
		S: +OK Logged in, 3 messages (%[1]d octets)
		C: CAPA
		S: +OK Capability list follows
		S: TOP
		S: UIDL
		S: USER
		S: SASL PLAIN
		S: RESP-CODES
		S: AUTH-RESP-CODE
		S: PIPELINING
		S: EXPIRE NEVER
		S: IMPLEMENTATION posthorn
		S: .
		C: USER bob@example.test
		S: -ERR Already logged in
		C: STAT
		S: +OK 3 %[1]d
		C: stat extra
		S: -ERR Usage: STAT
		C: LIST
		S: +OK 3 messages (%[1]d octets)
		S: 1 %[2]d
		S: 2 %[3]d
		S: 3 %[4]d
		S: .
		C: LIST 2
		S: +OK 2 %[3]d
		C: LIST 4
		S: -ERR No such message
		C: LIST 0
		S: -ERR No such message
		C: LIST -1
		S: -ERR No such message
		C: LIST 1 2
		S: -ERR Usage: LIST [msg]
		C: UIDL
		S: +OK Unique-ID listing follows
		S: 1 %[5]s
		S: 2 %[6]s
		S: 3 %[7]s
		S: .
		C: UIDL 3
		S: +OK 3 %[7]s
		C: RETR 1
		S: +OK %[2]d octets
		S: From: a@b.test
		S: To: alice@example.test
		S: Subject: one
		S: 
		S: Hello
		S: ..leading dot
		S: ...two dots
		S: ..
		S: end
		S: .
		C: RETR 3
		S: +OK %[4]d octets
		S: Subject: three
		S: 
		S: .
		C: RETR
		S: -ERR Usage: RETR msg
		C: TOP 1 0
		S: +OK Top of message follows
		S: From: a@b.test
		S: To: alice@example.test
		S: Subject: one
		S: 
		S: .
		C: TOP 1 2
		S: +OK Top of message follows
		S: From: a@b.test
		S: To: alice@example.test
		S: Subject: one
		S: 
		S: Hello
		S: ..leading dot
		S: .
		C: TOP 2 99
		S: +OK Top of message follows
		S: Subject: two
		S: 
		S: line1
		S: line2
		S: line3
		S: .
		C: TOP 3 99999999999999999999
		S: +OK Top of message follows
		S: Subject: three
		S: 
		S: .
		C: LIST 99999999999999999999
		S: -ERR No such message
		C: TOP 2 -1
		S: -ERR Invalid number of lines
		C: TOP 2
		S: -ERR Usage: TOP msg lines
		C: DELE 2
		S: +OK Message 2 deleted
		C: DELE 2
		S: -ERR Message 2 already deleted
		C: RETR 2
		S: -ERR Message 2 already deleted
		C: LIST 2
		S: -ERR Message 2 already deleted
		C: STAT
		S: +OK 2 %[8]d
		C: LIST
		S: +OK 2 messages (%[8]d octets)
		S: 1 %[2]d
		S: 3 %[4]d
		S: .
		C: UIDL
		S: +OK Unique-ID listing follows
		S: 1 %[5]s
		S: 3 %[7]s
		S: .
		C: RSET
		S: +OK Maildrop has 3 messages (%[1]d octets)
		C: noop
		S: +OK
		C: ZZZZ
		S: -ERR Unknown command in this state
		C: QUIT
		S: +OK Bye, 0 messages deleted
	`, total, len(msg1), len(msg2), len(msg3), uidl[0], uidl[1], uidl[2], total-len(msg2)))
	c.ExpectClosed()
	if got := e.inbox(t, e.alice); len(got) != 3 {
		t.Errorf("INBOX has %d messages after RSET and QUIT, want 3", len(got))
	}
}

func TestTranscriptQuitInAuthorization(t *testing.T) {
	e := newEnv(t)
	_, addr := e.start(t, Options{AllowPlaintextAuth: true})
	c := dialGreeted(t, addr)
	runScript(t, c, `
		C: QUIT
		S: +OK Bye
	`)
	c.ExpectClosed()
}

func TestTranscriptMalformed(t *testing.T) {
	e := newEnv(t)
	_, addr := e.start(t, Options{AllowPlaintextAuth: true})
	c := dialGreeted(t, addr)
	runScript(t, c, `
		C: 
		S: -ERR Malformed command
		C: US
		S: -ERR Malformed command
		C: USERS x
		S: -ERR Malformed command
		C: US3R x
		S: -ERR Malformed command
		C: USER
		S: -ERR Usage: USER name
		C: USER a b
		S: -ERR Usage: USER name
		C: USER alice@example.test
		S: +OK Send PASS
		C: PASS
		S: -ERR Usage: PASS password
	`)
	// Ten bad commands end the session.
	for range 5 {
		c.cmd("BAD!", "-ERR Malformed command")
	}
	c.cmd("BAD!", "-ERR Too many bad commands")
	c.ExpectClosed()
}

func TestTranscriptHTTP(t *testing.T) {
	e := newEnv(t)
	_, addr := e.start(t, Options{AllowPlaintextAuth: true})
	c := dialGreeted(t, addr)
	c.Send("GET / HTTP/1.1")
	c.Expect("-ERR This is a POP3 server")
	c.ExpectClosed()
}

func TestBareLFBody(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// Not what SMTP stores, but a store may hold it (APPEND, imports).
	const stored = "Subject: lf\n\n.dot\nlast line without newline"
	const wire = "Subject: lf\r\n\r\n.dot\r\nlast line without newline\r\n"
	if _, err := e.st.Append(ctx, e.aliceInboxID, store.AppendOptions{}, []byte(stored)); err != nil {
		t.Fatal(err)
	}
	_, addr := e.start(t, Options{AllowPlaintextAuth: true})
	c := dialGreeted(t, addr)
	c.login(alice, alicePW)
	c.cmd("LIST 1", fmt.Sprintf("+OK 1 %d", len(wire)))
	c.cmd("RETR 1", fmt.Sprintf("+OK %d octets", len(wire)))
	if got := c.message(); got != wire {
		t.Errorf("RETR sent %q, want %q", got, wire)
	}
	c.cmd("TOP 1 0", "+OK")
	if got := c.message(); got != "Subject: lf\r\n\r\n" {
		t.Errorf("TOP 1 0 sent %q", got)
	}
}
