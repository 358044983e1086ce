package selected

import (
	"strings"
	"testing"
)

func TestFetchItems(t *testing.T) {
	f := newFixture(t)
	f.add(msg1)
	f.add(msg2)
	c := f.open(Caps{}, false, nil)
	c.out()
	tests := []struct{ cmd, want string }{
		{"FETCH 1 (FLAGS UID RFC822.SIZE INTERNALDATE)",
			"* 1 FETCH (FLAGS () UID 1 RFC822.SIZE " + itoa(uint64(len(msg1))) + " INTERNALDATE \" 5-Mar-2024 10:20:30 +0000\")\r\n"},
		{"UID FETCH 2 FLAGS", "* 2 FETCH (UID 2 FLAGS ())\r\n"},
		{"FETCH 1 ENVELOPE", "* 1 FETCH (ENVELOPE (\"Mon, 4 Mar 2024 09:00:00 +0100\" \"Lunch tomorrow\" ((\"Alice\" NIL \"alice\" \"example.org\")) ((\"Alice\" NIL \"alice\" \"example.org\")) ((\"Alice\" NIL \"alice\" \"example.org\")) ((\"Bob\" NIL \"bob\" \"example.net\")) NIL NIL NIL \"<1@example.org>\"))\r\n"},
		{"FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]", "* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {27}\r\nSubject: Lunch tomorrow\r\n\r\n)\r\n"},
		{"FETCH 1 BODY.PEEK[TEXT]<6.8>", "* 1 FETCH (BODY[TEXT]<6> {8}\r\nwe meet )\r\n"},
		{"FETCH 2 (BINARY.PEEK[2] BINARY.SIZE[1])", "* 2 FETCH (BINARY[2] ~{5}\r\n\x00\x01\x02\x03\x04 BINARY.SIZE[1] 27)\r\n"},
		{"FETCH 2 BODY.PEEK[3]", "* 2 FETCH (BODY[3] NIL)\r\n"},
		{"FETCH 1 BODY", "* 1 FETCH (BODY (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 24 1))\r\n"},
		{"FETCH 1 RFC822.HEADER", "* 1 FETCH (RFC822.HEADER {154}\r\n" + msg1[:154] + ")\r\n"},
	}
	for _, tc := range tests {
		out, st := c.cmd(tc.cmd)
		if st != "OK" {
			t.Errorf("%s: %s", tc.cmd, st)
		}
		wantOut(t, tc.cmd, out, tc.want)
	}
	// Non-PEEK sets \Seen and says so.
	out, _ := c.cmd("FETCH 1 BODY[TEXT]")
	wantOut(t, "FETCH BODY[TEXT]", out, "* 1 FETCH (BODY[TEXT] {24}\r\nShall we meet at noon?\r\n FLAGS (\\Seen))\r\n")
	out, _ = c.cmd("FETCH 1 (FLAGS RFC822.TEXT)")
	wantOut(t, "second fetch, already seen", out, "* 1 FETCH (FLAGS (\\Seen) RFC822.TEXT {24}\r\nShall we meet at noon?\r\n)\r\n")
	if out, st := c.cmd("FETCH 3 FLAGS"); st != "BAD" || out != "" {
		t.Errorf("FETCH beyond the mailbox: %s %q", st, out)
	}
	if out, st := c.cmd("UID FETCH 3:5 FLAGS"); st != "OK" || out != "" {
		t.Errorf("UID FETCH of no message: %s %q", st, out)
	}
	if out := c.sync(false); out != "" {
		t.Errorf("Sync after own \\Seen repeated it: %q", out)
	}
	out, _ = c.cmd("FETCH 2 BODYSTRUCTURE")
	if !strings.HasPrefix(out, "* 2 FETCH (BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\"") {
		t.Errorf("BODYSTRUCTURE: %s", out)
	}
}

func TestFetchChangedSince(t *testing.T) {
	f := newFixture(t)
	f.add(msg1)
	f.add(msg3)
	f.add(msg3)
	c := f.open(Caps{}, false, nil)
	c.out()
	out, _ := c.cmd("FETCH 1:* (FLAGS MODSEQ)")
	ls := lines(out)
	if len(ls) != 3 || !c.caps.CondStore {
		t.Fatalf("FETCH MODSEQ: %q, CONDSTORE %v", out, c.caps.CondStore)
	}
	out, st := c.cmd("STORE 2 +FLAGS.SILENT (\\Answered)")
	if st != "OK" || !strings.HasPrefix(out, "* 2 FETCH (MODSEQ (") {
		t.Errorf("STORE .SILENT under CONDSTORE: %s %q", st, out)
	}
	ms := strings.TrimSuffix(strings.TrimPrefix(out, "* 2 FETCH (MODSEQ ("), "))\r\n")
	out, _ = c.cmd("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 4)")
	wantOut(t, "CHANGEDSINCE", out, "* 2 FETCH (UID 2 FLAGS (\\Answered) MODSEQ ("+ms+"))\r\n")
	// Under CONDSTORE the implicit \Seen comes with its MODSEQ.
	out, _ = c.cmd("FETCH 3 BODY[HEADER.FIELDS (SUBJECT)]")
	if !strings.Contains(out, " FLAGS (\\Seen) MODSEQ (") {
		t.Errorf("implicit \\Seen under CONDSTORE: %q", out)
	}
	if _, st := c.cmd("FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)"); st != "BAD" {
		t.Errorf("VANISHED without UID and QRESYNC: %s", st)
	}
}
