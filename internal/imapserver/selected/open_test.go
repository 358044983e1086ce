package selected

import (
	"context"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/imap"
)

func TestSelectRev1(t *testing.T) {
	f := newFixture(t)
	f.add(msg1, `\Seen`)
	f.add(msg2, "$Forwarded")
	f.add(msg3)
	c := f.open(Caps{}, false, nil)
	want := "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded)\r\n" +
		"* 3 EXISTS\r\n" +
		"* 0 RECENT\r\n" +
		"* OK [UNSEEN 2] First unseen\r\n" +
		"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded \\*)] Flags permitted\r\n" +
		"* OK [UIDVALIDITY " + itoa(uint64(f.box.UIDValidity)) + "] UIDs valid\r\n" +
		"* OK [UIDNEXT 4] Predicted next UID\r\n"
	wantOut(t, "SELECT", c.out(), want)
}

func TestSelectRev2CondStoreExamine(t *testing.T) {
	f := newFixture(t)
	f.add(msg1)
	f.add(msg2)
	c := f.open(Caps{Rev2: true}, true, &imap.SelectArgs{Mailbox: "INBOX", CondStore: true})
	got := c.out()
	for _, l := range []string{"* 2 EXISTS\r\n", "* LIST () \"/\" INBOX\r\n", "* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n", "* OK [HIGHESTMODSEQ "} {
		if !strings.Contains(got, l) {
			t.Errorf("EXAMINE (CONDSTORE) lacks %q:\n%s", l, got)
		}
	}
	if strings.Contains(got, "RECENT") || strings.Contains(got, "UNSEEN") {
		t.Errorf("IMAP4rev2 SELECT sent RECENT or UNSEEN:\n%s", got)
	}
	if !c.caps.CondStore {
		t.Error("SELECT (CONDSTORE) did not turn CONDSTORE on")
	}
	// EXAMINE is read-only: STORE and EXPUNGE refused, BODY[] keeps \Seen off.
	if _, st := c.cmd("STORE 1 +FLAGS (\\Deleted)"); st != "NO [READ-ONLY]" {
		t.Errorf("STORE under EXAMINE: %s", st)
	}
	if _, st := c.cmd("EXPUNGE"); st != "NO [READ-ONLY]" {
		t.Errorf("EXPUNGE under EXAMINE: %s", st)
	}
	out, st := c.cmd("FETCH 1 (BODY[])")
	if st != "OK" || strings.Contains(out, "\\Seen") {
		t.Errorf("FETCH BODY[] under EXAMINE: %s\n%s", st, out)
	}
	out, _ = c.cmd("FETCH 1 FLAGS")
	wantOut(t, "flags after EXAMINE fetch", out, "* 1 FETCH (FLAGS ())\r\n")
}

func TestSelectQResyncNeedsEnable(t *testing.T) {
	f := newFixture(t)
	caps := Caps{}
	_, err := Open(context.Background(), f.st, f.box, false, &caps, &imap.SelectArgs{QResync: &imap.QResyncArgs{UIDValidity: 1, ModSeq: 1}}, nil)
	if e, ok := err.(*imap.Error); !ok || e.Status != imap.BAD {
		t.Fatalf("QRESYNC without ENABLE: %v", err)
	}
}

func TestSelectQResync(t *testing.T) {
	f := newFixture(t)
	for range 5 {
		f.add(msg3)
	}
	ctx := context.Background()
	st, err := f.st.MailboxStatus(ctx, f.box.ID)
	if err != nil {
		t.Fatal(err)
	}
	since := st.HighestModSeq
	// After the client's MODSEQ: 2 and 4 expunged, 3 flagged.
	if _, _, err := f.st.UpdateFlags(ctx, f.box.ID, []uint32{2, 4}, 1, []string{`\Deleted`}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Expunge(ctx, f.box.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.st.UpdateFlags(ctx, f.box.ID, []uint32{3}, 1, []string{`\Flagged`}, 0); err != nil {
		t.Fatal(err)
	}
	c := f.open(Caps{QResync: true, CondStore: true}, false, &imap.SelectArgs{QResync: &imap.QResyncArgs{
		UIDValidity: f.box.UIDValidity, ModSeq: since}})
	got := lines(c.out())
	tail := strings.Join(got[len(got)-2:], "\n")
	if !strings.HasPrefix(tail, "* VANISHED (EARLIER) 2,4\n* 2 FETCH (UID 3 FLAGS (\\Flagged) MODSEQ (") {
		t.Errorf("QRESYNC responses:\n%s", strings.Join(got, "\n"))
	}
	// With known UIDs 1:3 only UID 2 is reported vanished.
	known, _ := imap.ParseSeqSet("1:3")
	c = f.open(Caps{QResync: true, CondStore: true}, false, &imap.SelectArgs{QResync: &imap.QResyncArgs{
		UIDValidity: f.box.UIDValidity, ModSeq: since, KnownUIDs: &known}})
	if out := c.out(); !strings.Contains(out, "* VANISHED (EARLIER) 2\r\n") {
		t.Errorf("QRESYNC with known UIDs:\n%s", out)
	}
	// Another UIDVALIDITY: a plain select.
	c = f.open(Caps{QResync: true, CondStore: true}, false, &imap.SelectArgs{QResync: &imap.QResyncArgs{
		UIDValidity: f.box.UIDValidity + 1, ModSeq: since}})
	if out := c.out(); strings.Contains(out, "VANISHED") || strings.Contains(out, "FETCH") {
		t.Errorf("QRESYNC with a stale UIDVALIDITY:\n%s", out)
	}
}

func TestOpenDeletedMailbox(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	box, err := f.st.CreateMailbox(ctx, f.acct.ID, "Gone", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.DeleteMailbox(ctx, f.acct.ID, "Gone"); err != nil {
		t.Fatal(err)
	}
	caps := Caps{}
	_, err = Open(ctx, f.st, box, false, &caps, nil, nil)
	if e, ok := err.(*imap.Error); !ok || e.Code != "NONEXISTENT" {
		t.Fatalf("Open of a deleted mailbox: %v", err)
	}
}
