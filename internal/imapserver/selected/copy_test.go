package selected

import (
	"context"
	"testing"

	"github.com/posthorn/posthorn/internal/imap"
)

func TestCopyMove(t *testing.T) {
	f := newFixture(t)
	for range 4 {
		f.add(msg3)
	}
	archive := f.mailbox("Archive")
	c := f.open(Caps{}, false, nil)
	c.out()
	ctx := context.Background()
	set, _ := imap.ParseSeqSet("2:3")
	res, err := c.v.Copy(ctx, c.w, set, false, archive)
	want := "COPYUID " + itoa(uint64(archive.UIDValidity)) + " 2:3 1:2"
	if err != nil || res.Code != want {
		t.Errorf("COPY: %v %+v, want %s", err, res, want)
	}
	set, _ = imap.ParseSeqSet("1,4")
	res, err = c.v.Move(ctx, c.w, set, true, archive)
	if err != nil || res.Code != "" {
		t.Fatalf("UID MOVE: %v %+v", err, res)
	}
	wantOut(t, "UID MOVE", c.out(), "* OK [COPYUID "+itoa(uint64(archive.UIDValidity))+" 1,4 3:4] Moved\r\n* 4 EXPUNGE\r\n* 1 EXPUNGE\r\n")
	out, _ := c.cmd("FETCH 1:* UID")
	wantOut(t, "after MOVE", out, "* 1 FETCH (UID 2)\r\n* 2 FETCH (UID 3)\r\n")
	msgs, _ := f.st.Messages(ctx, archive.ID)
	if len(msgs) != 4 {
		t.Errorf("Archive holds %d messages, want 4", len(msgs))
	}
	ro := f.open(Caps{}, true, nil)
	if _, err := ro.v.Move(ctx, ro.w, set, false, archive); status(err, Result{}) != "NO [READ-ONLY]" {
		t.Errorf("MOVE from EXAMINE: %v", err)
	}
}

func TestCloseExpunges(t *testing.T) {
	f := newFixture(t)
	f.add(msg3, `\Deleted`)
	f.add(msg3)
	ro := f.open(Caps{}, true, nil)
	if err := ro.v.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if msgs, _ := f.st.Messages(context.Background(), f.box.ID); len(msgs) != 2 {
		t.Fatalf("CLOSE of EXAMINE expunged: %d left", len(msgs))
	}
	c := f.open(Caps{}, false, nil)
	if err := c.v.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if msgs, _ := f.st.Messages(context.Background(), f.box.ID); len(msgs) != 1 || msgs[0].UID != 2 {
		t.Fatalf("CLOSE left %v", msgs)
	}
}
