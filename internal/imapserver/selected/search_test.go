package selected

import (
	"testing"
)

func TestSearch(t *testing.T) {
	f := newFixture(t)
	f.add(msg1, `\Seen`)
	f.add(msg2, `\Flagged`)
	f.add(msg3)
	c := f.open(Caps{}, false, nil)
	c.out()
	tests := []struct{ cmd, want string }{
		{"SEARCH ALL", "* SEARCH 1 2 3"},
		{"SEARCH UNSEEN", "* SEARCH 2 3"},
		{"SEARCH FLAGGED NOT SEEN", "* SEARCH 2"},
		{"SEARCH OR SEEN FLAGGED", "* SEARCH 1 2"},
		{"UID SEARCH 2:*", "* SEARCH 2 3"},
		{"SEARCH UID 3", "* SEARCH 3"},
		{"SEARCH FROM alice", "* SEARCH 1"},
		{"SEARCH FROM EXAMPLE.ORG", "* SEARCH 1 3"},
		{"SEARCH SUBJECT \"grüße\"", "* SEARCH 2"},
		{"SEARCH BODY \"frühstück\"", "* SEARCH 2"},
		{"SEARCH BODY budget", "* SEARCH 3"},
		{"SEARCH TEXT lunch", "* SEARCH 1"},
		{"SEARCH HEADER Message-ID \"\"", "* SEARCH 1"},
		{"SEARCH HEADER MIME-Version 1.0 UNSEEN", "* SEARCH 2"},
		{"SEARCH SENTBEFORE 5-Mar-2024", "* SEARCH 1"},
		{"SEARCH SENTON 5-Mar-2024", "* SEARCH 2"},
		{"SEARCH SENTSINCE 5-Mar-2024", "* SEARCH 2 3"},
		{"SEARCH ON 5-Mar-2024", "* SEARCH 1 2 3"},
		{"SEARCH BEFORE 5-Mar-2024", "* SEARCH"},
		{"SEARCH LARGER 300", "* SEARCH 2"},
		{"SEARCH NOT BODY noon", "* SEARCH 2 3"},
		{"SEARCH NEW", "* SEARCH"},
		{"SEARCH CHARSET UTF-8 BODY fertig", "* SEARCH 2"},
		{"SEARCH RETURN (MIN MAX COUNT) UNSEEN", "* ESEARCH (TAG \"t\") MIN 2 MAX 3 COUNT 2"},
		{"UID SEARCH RETURN () ALL", "* ESEARCH (TAG \"t\") UID ALL 1:3"},
		{"SEARCH RETURN (COUNT) BODY nothing-like-this", "* ESEARCH (TAG \"t\") COUNT 0"},
	}
	for _, tc := range tests {
		out, st := c.cmd(tc.cmd)
		if st != "OK" {
			t.Errorf("%s: %s", tc.cmd, st)
		}
		wantOut(t, tc.cmd, out, tc.want+"\r\n")
	}
	if _, st := c.cmd("SEARCH CHARSET KOI8-R BODY x"); st != "NO [BADCHARSET (UTF-8 US-ASCII)]" {
		t.Errorf("BADCHARSET: %s", st)
	}
	// SAVE and $ (RFC 5182).
	out, _ := c.cmd("SEARCH RETURN (SAVE) UNSEEN")
	wantOut(t, "SAVE alone", out, "")
	out, _ = c.cmd("FETCH $ UID")
	wantOut(t, "FETCH $", out, "* 2 FETCH (UID 2)\r\n* 3 FETCH (UID 3)\r\n")
	out, _ = c.cmd("SEARCH $ FLAGGED")
	wantOut(t, "SEARCH $", out, "* SEARCH 2\r\n")
	out, _ = c.cmd("SEARCH RETURN (SAVE MIN) ALL")
	wantOut(t, "SAVE MIN", out, "* ESEARCH (TAG \"t\") MIN 1\r\n")
	out, _ = c.cmd("UID SEARCH $")
	wantOut(t, "saved MIN", out, "* SEARCH 1\r\n")
	// MODSEQ turns CONDSTORE on and reports the highest.
	c.cmd("STORE 3 +FLAGS (\\Answered)")
	out, _ = c.cmd("SEARCH MODSEQ 5")
	if out != "* SEARCH 3 (MODSEQ 5)\r\n" || !c.caps.CondStore {
		t.Errorf("SEARCH MODSEQ: %q", out)
	}
	// IMAP4rev2: ESEARCH ALL without RETURN.
	c.caps.Rev2 = true
	out, _ = c.cmd("SEARCH UNSEEN")
	wantOut(t, "rev2 SEARCH", out, "* ESEARCH (TAG \"t\") ALL 2:3\r\n")
	c.caps.Rev2 = false
	// Bodies and encoded words in other charsets are searched as UTF-8.
	f.add("Subject: =?windows-1252?Q?Caf=E9_cr=E8me?=\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nD\xe9j\xe0 vu\r\n")
	c.sync(true)
	out, _ = c.cmd("SEARCH BODY \"déjà\"")
	wantOut(t, "ISO-8859-1 body", out, "* SEARCH 4\r\n")
	out, _ = c.cmd("SEARCH SUBJECT \"CAFÉ CRÈME\"")
	wantOut(t, "windows-1252 encoded word", out, "* SEARCH 4\r\n")
}
