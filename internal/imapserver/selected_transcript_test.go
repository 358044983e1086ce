package imapserver

import (
	"strconv"
	"strings"
	"testing"
)

// Transcripts of the selected state over a real socket: the session
// dispatching to package selected's View (SELECT, FETCH, STORE, SEARCH,
// EXPUNGE, MOVE, IDLE), with the exact lines a client reads.

const selMsg = "From: Alice <alice@example.test>\r\nSubject: Hello\r\n\r\nHi there.\r\n"

func TestSelectedTranscript(t *testing.T) {
	e := newEnv(t)
	addr := e.plain(t)
	for range 3 {
		e.deliver(t, e.alice, selMsg)
	}
	uv := strconv.FormatUint(uint64(e.mailbox(t, e.alice, "INBOX").UIDValidity), 10)
	c := loggedIn(t, addr)
	c.transcript("a1", "SELECT INBOX",
		`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)`,
		"* 3 EXISTS",
		"* 0 RECENT",
		"* OK [UNSEEN 1] First unseen",
		`* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted`,
		"* OK [UIDVALIDITY "+uv+"] UIDs valid",
		"* OK [UIDNEXT 4] Predicted next UID",
		"a1 OK [READ-WRITE] SELECT completed")
	c.transcript("a2", "FETCH 2 (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])",
		"* 2 FETCH (UID 2 RFC822.SIZE "+strconv.Itoa(len(selMsg))+" BODY[HEADER.FIELDS (SUBJECT)] {18}",
		"Subject: Hello",
		"",
		")",
		"a2 OK Fetch completed")
	// RFC 9051 §6.4.6's STORE example, on our messages.
	c.transcript("a3", `STORE 2:3 +FLAGS (\Deleted)`,
		`* 2 FETCH (FLAGS (\Deleted))`,
		`* 3 FETCH (FLAGS (\Deleted))`,
		"a3 OK Store completed")
	c.transcript("a4", "UID SEARCH DELETED", "* SEARCH 2 3", "a4 OK Search completed")
	c.transcript("a5", "SEARCH RETURN (MIN COUNT) DELETED", `* ESEARCH (TAG "a5") MIN 2 COUNT 2`, "a5 OK Search completed")

	// A second session deletes message 1 meanwhile; ours hears of it at
	// NOOP but not during FETCH (RFC 9051 §7.5.1).
	d := loggedIn(t, addr)
	d.ok("b1", "SELECT INBOX")
	d.transcript("b2", `STORE 1 +FLAGS.SILENT (\Deleted)`, "b2 OK Store completed")
	d.transcript("b3", "UID EXPUNGE 1", "* 1 EXPUNGE", "b3 OK Expunge completed")
	c.transcript("a6", "FETCH 1 FLAGS", "a6 OK [EXPUNGEISSUED] Some of the requested messages no longer exist")
	c.transcript("a7", "NOOP", "* 1 EXPUNGE", "a7 OK NOOP completed")
	c.transcript("a8", "EXPUNGE", "* 2 EXPUNGE", "* 1 EXPUNGE", "a8 OK Expunge completed")
	d.transcript("b4", "NOOP", "* 2 EXPUNGE", "* 1 EXPUNGE", "b4 OK NOOP completed")

	// IDLE: a delivery is pushed as EXISTS.
	d.Send("b5 IDLE")
	d.Expect("+ ")
	e.deliver(t, e.alice, selMsg)
	d.Expect("* 1 EXISTS")
	d.Send("DONE")
	d.Expect("b5 OK")

	// MOVE: COPYUID first, then the expunge (RFC 6851 §4.3).
	archive := strconv.FormatUint(uint64(e.mailbox(t, e.alice, "Archive").UIDValidity), 10)
	c.transcript("a9", "UID MOVE 4 Archive",
		"* 1 EXISTS",
		"* OK [COPYUID "+archive+" 4 1] Moved",
		"* 1 EXPUNGE",
		"a9 OK Move completed")
	d.transcript("b6", "NOOP", "* 1 EXPUNGE", "b6 OK NOOP completed")
}

func TestExamineIsReadOnly(t *testing.T) {
	e := newEnv(t)
	addr := e.plain(t)
	e.deliver(t, e.alice, selMsg)
	c := loggedIn(t, addr)
	lines := c.run("a1", "EXAMINE INBOX")
	if last := lines[len(lines)-1]; last != "a1 OK [READ-ONLY] EXAMINE completed" {
		t.Fatalf("EXAMINE: %q", lines)
	}
	c.transcript("a2", `STORE 1 +FLAGS (\Seen)`, "a2 NO [READ-ONLY] Mailbox is read-only")
	c.transcript("a3", "FETCH 1 BODY[TEXT]", "* 1 FETCH (BODY[TEXT] {11}", "Hi there.", ")", "a3 OK Fetch completed")
	c.transcript("a4", "FETCH 1 FLAGS", "* 1 FETCH (FLAGS ())", "a4 OK Fetch completed")
	c.transcript("a5", "EXPUNGE", "a5 NO [READ-ONLY] Mailbox is read-only")
	if got := strings.Join(c.run("a6", "MOVE 1 Archive"), "\n"); !strings.HasSuffix(got, "a6 NO [READ-ONLY] Mailbox is read-only") {
		t.Errorf("MOVE under EXAMINE: %s", got)
	}
}

// CONDSTORE and QRESYNC over the wire (RFC 7162 §3.1.3, §3.2.5.1).
func TestCondStoreQResyncTranscript(t *testing.T) {
	e := newEnv(t)
	addr := e.plain(t)
	for range 4 {
		e.deliver(t, e.alice, selMsg)
	}
	c := loggedIn(t, addr)
	lines := c.ok("a1", "SELECT INBOX (CONDSTORE)")
	if !strings.Contains(strings.Join(lines, "\n"), "* OK [HIGHESTMODSEQ 5] Highest") {
		t.Fatalf("SELECT (CONDSTORE): %q", lines)
	}
	c.transcript("a2", `STORE 1:2 (UNCHANGEDSINCE 5) +FLAGS (\Flagged)`,
		`* 1 FETCH (FLAGS (\Flagged) MODSEQ (6))`,
		`* 2 FETCH (FLAGS (\Flagged) MODSEQ (6))`,
		"a2 OK Store completed")
	c.transcript("a3", `STORE 1:3 (UNCHANGEDSINCE 5) +FLAGS (\Seen)`,
		`* 3 FETCH (FLAGS (\Seen) MODSEQ (7))`,
		"a3 OK [MODIFIED 1:2] Conditional store failed")
	c.transcript("a4", `UID STORE 4 +FLAGS.SILENT (\Deleted)`, "* 4 FETCH (UID 4 MODSEQ (8))", "a4 OK Store completed")
	c.transcript("a5", "UID EXPUNGE 4", "* 4 EXPUNGE", "a5 OK Expunge completed")
	c.transcript("a6", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE 6)",
		`* 3 FETCH (UID 3 FLAGS (\Seen) MODSEQ (7))`,
		"a6 OK Fetch completed")
	c.ok("a7", "LOGOUT")

	uv := strconv.FormatUint(uint64(e.mailbox(t, e.alice, "INBOX").UIDValidity), 10)
	d := loggedIn(t, addr)
	d.ok("b1", "ENABLE QRESYNC")
	lines = d.ok("b2", "SELECT INBOX (QRESYNC ("+uv+" 5 1:4))")
	want := "* OK [HIGHESTMODSEQ 9] Highest\n" +
		"* VANISHED (EARLIER) 4\n" +
		`* 1 FETCH (UID 1 FLAGS (\Flagged) MODSEQ (6))` + "\n" +
		`* 2 FETCH (UID 2 FLAGS (\Flagged) MODSEQ (6))` + "\n" +
		`* 3 FETCH (UID 3 FLAGS (\Seen) MODSEQ (7))`
	if got := strings.Join(lines, "\n"); !strings.HasSuffix(got, want) {
		t.Errorf("SELECT (QRESYNC):\n%s\nwant it to end with:\n%s", got, want)
	}
	d.transcript("b3", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE 6 VANISHED)",
		"* VANISHED (EARLIER) 4",
		`* 3 FETCH (UID 3 FLAGS (\Seen) MODSEQ (7))`,
		"b3 OK Fetch completed")
}
