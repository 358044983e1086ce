package imapserver

import (
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// The session's side of the selected state: SELECT/EXAMINE and their
// tagged answers, [CLOSED], CLOSE/UNSELECT, routing of the selected
// commands, TRYCREATE, the EXPUNGE rule of RFC 9051 §7.5.1, and IDLE.

func TestSelectExamineClose(t *testing.T) {
	e := newEnv(t)
	e.deliver(t, e.alice, "Subject: one\r\n\r\n1\r\n")
	c := loggedIn(t, e.plain(t))
	got := c.run("a", "SELECT inbox")
	if !slices.Contains(got, "* 1 EXISTS") || got[len(got)-1] != "a OK [READ-WRITE] SELECT completed" {
		t.Fatalf("SELECT: %q", got)
	}
	got = c.run("b", "EXAMINE Sent")
	if slices.ContainsFunc(got, func(l string) bool { return strings.Contains(l, "[CLOSED]") }) {
		t.Fatalf("IMAP4rev1 client got [CLOSED]: %q", got)
	}
	if got[len(got)-1] != "b OK [READ-ONLY] EXAMINE completed" {
		t.Fatalf("EXAMINE: %q", got)
	}
	c.transcript("c", "SELECT nothing", "c NO [NONEXISTENT] No such mailbox")
	// A failed SELECT leaves the authenticated state (RFC 9051 §6.3.2).
	c.transcript("d", "FETCH 1 FLAGS", "d BAD Command not valid in this state")
	c.ok("e", "SELECT INBOX")
	c.transcript("e2", "CHECK", "e2 OK CHECK completed")
	c.transcript("f", "DELETE INBOX", "f NO [CANNOT] INBOX cannot be deleted")
	c.ok("g", "CREATE Tmp")
	c.ok("h", "SELECT Tmp")
	c.transcript("i", "DELETE Tmp", "i NO [INUSE] Mailbox is selected; CLOSE or UNSELECT it first")
	c.ok("i2", "RENAME Tmp Tmp2")
	c.transcript("i3", "DELETE Tmp2", "i3 NO [INUSE] Mailbox is selected; CLOSE or UNSELECT it first")
	c.ok("i4", "RENAME Tmp2 Tmp")
	c.transcript("j", "UNSELECT", "j OK UNSELECT completed")
	c.transcript("k", "UNSELECT", "k BAD Command not valid in this state")
	c.ok("l", "DELETE Tmp")
	c.ok("m", "SELECT INBOX")
	c.transcript("n", "CLOSE", "n OK CLOSE completed")
	c.transcript("o", "EXPUNGE", "o BAD Command not valid in this state")
	c.transcript("p", "SELECT INBOX (QRESYNC (1 2))", "p BAD QRESYNC parameter without ENABLE QRESYNC")
}

// TestSelectClosedRev2: RFC 9051 §7.1: under IMAP4rev2 a SELECT that
// replaces a selected mailbox first says [CLOSED].
func TestSelectClosedRev2(t *testing.T) {
	e := newEnv(t)
	c := loggedIn(t, e.plain(t))
	c.ok("a", "ENABLE IMAP4rev2")
	c.ok("b", "SELECT INBOX")
	got := c.run("c", "SELECT Sent")
	if got[0] != "* OK [CLOSED] Previous mailbox closed" {
		t.Fatalf("reselect: %q", got)
	}
}

func TestCopyMoveTryCreate(t *testing.T) {
	e := newEnv(t)
	e.deliver(t, e.alice, "Subject: one\r\n\r\n1\r\n")
	c := loggedIn(t, e.plain(t))
	c.ok("a", "SELECT INBOX")
	c.transcript("b", "COPY 1 nothing", "b NO [TRYCREATE] No such mailbox")
	c.transcript("c", "UID MOVE 1 nothing", "c NO [TRYCREATE] No such mailbox")
	c.ok("d", "COPY 1 Archive")
	c.transcript("e", "STATUS Archive (MESSAGES)", "* STATUS Archive (MESSAGES 1)", "e OK STATUS completed")
}

// TestNoExpungeDuringFetch: another session's expunge is reported after
// NOOP, never with the answer to FETCH, STORE or SEARCH (RFC 9051 §7.5.1).
func TestNoExpungeDuringFetch(t *testing.T) {
	e := newEnv(t)
	e.deliver(t, e.alice, "Subject: one\r\n\r\n1\r\n")
	e.deliver(t, e.alice, "Subject: two\r\n\r\n2\r\n")
	addr := e.plain(t)
	a := loggedIn(t, addr)
	a.ok("a", "SELECT INBOX")
	b := loggedIn(t, addr)
	b.ok("b", "SELECT INBOX")
	b.ok("c", `STORE 1 +FLAGS.SILENT (\Deleted)`)
	b.ok("d", "EXPUNGE")
	isExpunge := func(l string) bool { return strings.HasSuffix(l, " EXPUNGE") || strings.HasPrefix(l, "* VANISHED") }
	for _, cmd := range []string{"FETCH 1:* (FLAGS)", "STORE 2 +FLAGS.SILENT (\\Seen)", "SEARCH ALL", "UID FETCH 1:* (FLAGS)", "UID SEARCH ALL"} {
		if got := a.run("x", cmd); slices.ContainsFunc(got, isExpunge) {
			t.Fatalf("%s sent an EXPUNGE: %q", cmd, got)
		}
	}
	if got := a.run("y", "NOOP"); !slices.Contains(got, "* 1 EXPUNGE") {
		t.Fatalf("NOOP after another session's expunge: %q", got)
	}
}

// TestIdlePush: a message delivered while a client IDLEs reaches it as
// "* N EXISTS" at once; DONE ends the IDLE. Over 50 deliveries the
// latency from Deliver's return to the EXISTS line is measured; the bound
// asserted is generous (the machine is shared), the figures are logged.
func TestIdlePush(t *testing.T) {
	e := newEnv(t)
	c := loggedIn(t, e.plain(t))
	c.ok("a", "SELECT INBOX")
	c.Send("i IDLE")
	c.Expect("+ idling")
	var lat []time.Duration
	for n := 1; n <= 50; n++ {
		e.deliver(t, e.alice, "Subject: push\r\n\r\nx\r\n")
		start := time.Now()
		want := "* " + itoa(n) + " EXISTS"
		for {
			l := c.Line()
			if l == want {
				break
			}
			if !strings.HasPrefix(l, "* ") {
				t.Fatalf("in IDLE: %q", l)
			}
		}
		lat = append(lat, time.Since(start))
	}
	c.Send("DONE")
	c.Expect("i OK IDLE terminated")
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	t.Logf("IDLE push latency over %d deliveries: p50 %v, p99 %v, max %v", len(lat), p50, p99, lat[len(lat)-1])
	if p99 > time.Second {
		t.Errorf("IDLE push p99 %v, over 1s", p99)
	}
	// Not DONE: another line ends IDLE with BAD.
	c.Send("j IDLE")
	c.Expect("+ idling")
	c.Send("NOT DONE")
	c.Expect("j BAD Expected DONE")
}

// TestIdleAppendOtherSession: an APPEND by another session wakes IDLE
// too.
func TestIdleAppendOtherSession(t *testing.T) {
	e := newEnv(t)
	addr := e.plain(t)
	c := loggedIn(t, addr)
	c.ok("a", "SELECT INBOX")
	c.Send("i IDLE")
	c.Expect("+ idling")
	other := loggedIn(t, addr)
	other.Send("b APPEND INBOX {12+}\r\nSubject: x\r\n")
	other.Expect("b OK [APPENDUID ")
	c.Expect("* 1 EXISTS")
	c.Send("DONE")
	c.Expect("i OK IDLE terminated")
}

// TestSelectedMailboxDeleted: when another session deletes the selected
// mailbox, the next command that needs it ends the session with BYE
// rather than failing with an internal error.
func TestSelectedMailboxDeleted(t *testing.T) {
	e := newEnv(t)
	addr := e.plain(t)
	a := loggedIn(t, addr)
	a.ok("a", "CREATE Tmp")
	a.ok("b", "APPEND Tmp {12+}\r\nSubject: x\r\n")
	a.ok("c", "SELECT Tmp")
	b := loggedIn(t, addr)
	b.ok("d", "DELETE Tmp")
	a.transcript("e", `STORE 1 +FLAGS (\Seen)`, "e NO [NONEXISTENT] Selected mailbox was deleted")
	a.Expect("* BYE Selected mailbox was deleted, closing")
	a.ExpectClosed()

	// In IDLE the deletion ends the session at once.
	a = loggedIn(t, addr)
	a.ok("f", "CREATE Tmp2")
	a.ok("g", "SELECT Tmp2")
	a.Send("i IDLE")
	a.Expect("+ idling")
	b.ok("h", "DELETE Tmp2")
	a.Expect("* BYE Selected mailbox was deleted, closing")
	a.ExpectClosed()
}
