package selected

import (
	"strings"
	"testing"
)

func TestStore(t *testing.T) {
	f := newFixture(t)
	f.add(msg1)
	f.add(msg2)
	f.add(msg3)
	c := f.open(Caps{}, false, nil)
	c.out()
	out, st := c.cmd("STORE 1:2 +FLAGS (\\Flagged $Work)")
	wantOut(t, "+FLAGS", out, "* 1 FETCH (FLAGS ($Work \\Flagged))\r\n* 2 FETCH (FLAGS ($Work \\Flagged))\r\n")
	if st != "OK" {
		t.Error(st)
	}
	out, _ = c.cmd("UID STORE 2 -FLAGS.SILENT ($work)")
	wantOut(t, "-FLAGS.SILENT", out, "")
	out, _ = c.cmd("UID STORE 2:3 FLAGS (\\Seen)")
	wantOut(t, "UID STORE FLAGS", out, "* 2 FETCH (FLAGS (\\Seen) UID 2)\r\n* 3 FETCH (FLAGS (\\Seen) UID 3)\r\n")
	if _, st := c.cmd("STORE 1 +FLAGS (\\Bogus)"); st != "BAD" {
		t.Errorf("unknown system flag: %s", st)
	}
	if out := c.sync(true); out != "" {
		t.Errorf("Sync repeated the session's own changes: %q", out)
	}
	// UNCHANGEDSINCE: message 1 changed after modseq 4, the others not.
	out, st = c.cmd("STORE 1:3 (UNCHANGEDSINCE 1) +FLAGS (\\Answered)")
	if st != "OK [MODIFIED 1:3]" || out != "" {
		t.Errorf("UNCHANGEDSINCE 1: %s %q", st, out)
	}
	_, st = c.cmd("UID STORE 1 (UNCHANGEDSINCE 0) +FLAGS (\\Answered)")
	if st != "OK [MODIFIED 1]" {
		t.Errorf("UNCHANGEDSINCE 0: %s", st)
	}
	out, _ = c.cmd("FETCH 3 MODSEQ")
	ms := strings.TrimSuffix(strings.TrimPrefix(out, "* 3 FETCH (MODSEQ ("), "))\r\n")
	out, st = c.cmd("STORE 3 (UNCHANGEDSINCE " + ms + ") +FLAGS (\\Answered)")
	if st != "OK" || !strings.HasPrefix(out, "* 3 FETCH (FLAGS (\\Answered \\Seen) MODSEQ (") {
		t.Errorf("UNCHANGEDSINCE current: %s %q", st, out)
	}
}
