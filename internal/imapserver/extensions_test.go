package imapserver

import (
	"slices"
	"strings"
	"testing"
)

// TestAdvertisedExtensions runs one command of each selected-state
// extension listed in CAPABILITY through the session, so none is
// advertised without working end to end: UIDPLUS, MOVE, CONDSTORE,
// QRESYNC, ESEARCH, SEARCHRES, BINARY.
func TestAdvertisedExtensions(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 3; i++ {
		e.deliver(t, e.alice, "Subject: m\r\nContent-Type: text/plain\r\n\r\nbody\r\n")
	}
	c := loggedIn(t, e.plain(t))
	has := func(lines []string, prefix string) bool {
		return slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, prefix) })
	}
	c.ok("a", "ENABLE QRESYNC")
	uv := itoa(e.mailbox(t, e.alice, "INBOX").UIDValidity)
	if got := c.ok("b", "SELECT INBOX (QRESYNC ("+uv+" 1))"); !has(got, "* OK [HIGHESTMODSEQ ") {
		t.Errorf("SELECT QRESYNC: %q", got)
	}
	if got := c.ok("c", "FETCH 1 (MODSEQ FLAGS)"); !has(got, "* 1 FETCH (MODSEQ (") {
		t.Errorf("CONDSTORE FETCH MODSEQ: %q", got)
	}
	if got := c.run("d", `STORE 1 (UNCHANGEDSINCE 1) +FLAGS (\Seen)`); !strings.HasPrefix(got[len(got)-1], "d OK [MODIFIED 1]") {
		t.Errorf("CONDSTORE UNCHANGEDSINCE: %q", got)
	}
	if got := c.ok("e", "SEARCH RETURN (MIN MAX COUNT) ALL"); !has(got, `* ESEARCH (TAG "e") MIN 1 MAX 3 COUNT 3`) {
		t.Errorf("ESEARCH: %q", got)
	}
	c.ok("f", "SEARCH RETURN (SAVE) 2:3")
	if got := c.ok("g", "FETCH $ (UID)"); !has(got, "* 2 FETCH (UID 2)") || !has(got, "* 3 FETCH (UID 3)") {
		t.Errorf("SEARCHRES: %q", got)
	}
	if got := c.ok("h", "FETCH 1 (BINARY.PEEK[1])"); !has(got, "* 1 FETCH (BINARY[1] {6}") {
		t.Errorf("BINARY: %q", got)
	}
	archive := itoa(e.mailbox(t, e.alice, "Archive").UIDValidity)
	if got := c.run("i", "UID COPY 1 Archive"); !strings.HasPrefix(got[len(got)-1], "i OK [COPYUID "+archive+" 1 1]") {
		t.Errorf("UIDPLUS COPYUID: %q", got)
	}
	if got := c.run("j", "UID MOVE 2 Archive"); !has(got, "* OK [COPYUID "+archive+" 2 2]") && !strings.Contains(got[len(got)-1], "COPYUID") {
		t.Errorf("MOVE: %q", got)
	} else if !has(got, "* VANISHED 2") {
		t.Errorf("MOVE under QRESYNC without VANISHED: %q", got)
	}
	c.ok("k", `UID STORE 3 +FLAGS.SILENT (\Deleted)`)
	if got := c.ok("l", "UID EXPUNGE 3"); !has(got, "* VANISHED 3") {
		t.Errorf("UID EXPUNGE: %q", got)
	}
}
