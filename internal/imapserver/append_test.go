package imapserver

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// APPEND (RFC 9051 §6.3.12) with APPENDUID (RFC 4315).

func TestAppend(t *testing.T) {
	e := newEnv(t)
	c := loggedIn(t, e.plain(t))
	drafts := e.mailbox(t, e.alice, "Drafts")
	msg := "Date: Mon, 7 Feb 1994 21:52:25 -0800\r\nSubject: afternoon meeting\r\n\r\nHello Joe\r\n"
	// RFC 9051 §6.3.12 example, into Drafts.
	c.Send(`A003 APPEND drafts (\Seen \Recent $Important) "07-Feb-1994 21:52:25 -0800" {` + itoa(len(msg)) + `}`)
	c.Expect("+ ")
	c.Send(msg)
	if got, want := c.Line(), "A003 NO [TRYCREATE] No such mailbox"; got != want {
		t.Fatalf("APPEND to a missing mailbox: %q, want %q", got, want)
	}
	c.Send(`A004 APPEND Drafts (\Seen \Recent $Important) "07-Feb-1994 21:52:25 -0800" {` + itoa(len(msg)) + `}`)
	c.Expect("+ ")
	c.Send(msg)
	if got, want := c.Line(), "A004 OK [APPENDUID "+itoa(drafts.UIDValidity)+" 1] APPEND completed"; got != want {
		t.Fatalf("APPEND: %q, want %q", got, want)
	}
	ctx := context.Background()
	msgs, err := e.st.Messages(ctx, drafts.ID)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("stored: %v %v", msgs, err)
	}
	m := msgs[0]
	if got := strings.Join(m.Flags, " "); got != `$Important \Seen` && got != `\Seen $Important` {
		t.Errorf("flags %q: \\Recent must be dropped, the others kept", got)
	}
	if want := time.Date(1994, 2, 8, 5, 52, 25, 0, time.UTC); !m.InternalDate.Equal(want) {
		t.Errorf("internal date %v, want %v", m.InternalDate, want)
	}
	body, _ := e.st.MessageBody(ctx, m.ID)
	if string(body) != msg {
		t.Errorf("body %q", body)
	}
	// LITERAL+ (RFC 7888) and a second message: the next UID.
	c.Send("A005 APPEND Drafts {12+}\r\nSubject: y\r\n")
	if got, want := c.Line(), "A005 OK [APPENDUID "+itoa(drafts.UIDValidity)+" 2] APPEND completed"; got != want {
		t.Fatalf("APPEND LITERAL+: %q, want %q", got, want)
	}
	c.transcript("A006", "APPEND Drafts {0+}\r\n", "A006 NO [CANNOT] Empty message")
	c.transcript("A007", "APPEND Drafts {1+}\r\nx {1+}\r\ny", "A007 BAD One message per APPEND (MULTIAPPEND is not supported)")
	c.transcript("A008", "STATUS Drafts (MESSAGES)", "* STATUS Drafts (MESSAGES 2)", "A008 OK STATUS completed")
}

// TestAppendBinary: a literal8 (RFC 3516) may carry NUL and is stored as
// sent.
func TestAppendBinary(t *testing.T) {
	e := newEnv(t)
	c := loggedIn(t, e.plain(t))
	msg := "Subject: bin\r\nContent-Transfer-Encoding: binary\r\n\r\na\x00b\r\n"
	c.Send("a APPEND INBOX ~{" + itoa(len(msg)) + "+}\r\n" + msg)
	c.Expect("a OK [APPENDUID ")
	inbox := e.mailbox(t, e.alice, store.Inbox)
	msgs, _ := e.st.Messages(context.Background(), inbox.ID)
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	body, _ := e.st.MessageBody(context.Background(), msgs[0].ID)
	if string(body) != msg {
		t.Errorf("body %q", body)
	}
}

// TestAppendUTF8: RFC 6855 §4, UTF8 (literal8) data only after ENABLE
// UTF8=ACCEPT.
func TestAppendUTF8(t *testing.T) {
	e := newEnv(t)
	c := loggedIn(t, e.plain(t))
	msg := "Subject: caf\u00e9\r\n\r\n\u00e9\r\n"
	c.transcript("a", "APPEND INBOX UTF8 (~{"+itoa(len(msg))+"+}\r\n"+msg+")", "a BAD UTF8 message data needs ENABLE UTF8=ACCEPT")
	c.ok("b", "ENABLE UTF8=ACCEPT")
	c.Send("c APPEND INBOX UTF8 (~{" + itoa(len(msg)) + "+}\r\n" + msg + ")")
	c.Expect("c OK [APPENDUID ")
}
