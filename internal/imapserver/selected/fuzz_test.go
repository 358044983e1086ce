package selected

import (
	"bufio"
	"context"
	"io"
	"testing"

	"github.com/posthorn/posthorn/internal/imap"
	"github.com/posthorn/posthorn/internal/store"
)

// fuzzFetches are the FETCH commands every fuzzed message goes through.
var fuzzFetches = []string{
	"FETCH 1 (FLAGS ENVELOPE BODY BODYSTRUCTURE RFC822.SIZE INTERNALDATE)",
	"FETCH 1 (BODY[] BODY[HEADER] BODY[TEXT] BODY[1] BODY[1.MIME] BODY[2.1.HEADER] BODY[1.TEXT]<3.10>)",
	"FETCH 1 (BODY.PEEK[HEADER.FIELDS (From Subject)] BODY.PEEK[HEADER.FIELDS.NOT (To)] RFC822.HEADER RFC822.TEXT)",
	"FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1] BINARY.PEEK[2.1] BINARY.SIZE[3])",
}

// FuzzFetchSearch stores a message and runs every kind of FETCH and a
// SEARCH with text keys on it, under IMAP4rev1 and IMAP4rev2: nothing
// may panic, every FETCH answers OK or NO [UNKNOWN-CTE], and the
// response is well formed enough that its literal counts add up.
func FuzzFetchSearch(f *testing.F) {
	for _, m := range []string{msg1, msg2, msg3, "", "\r\n", "Subject: x\r\n",
		"Content-Type: multipart/mixed; boundary=\"a\"\r\n\r\n--a\r\nContent-Transfer-Encoding: x-uue\r\n\r\nzz\r\n--a",
		"Content-Type: message/rfc822\r\n\r\nContent-Type: multipart/alternative; boundary=q\r\n\r\n--q\r\n\r\n--q--"} {
		f.Add(m, "fertig")
	}
	fx := newFixture(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, body, word string) {
		m, err := fx.st.Append(ctx, fx.box.ID, store.AppendOptions{}, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			fx.st.UpdateFlags(ctx, fx.box.ID, []uint32{m.UID}, store.FlagsAdd, []string{`\Deleted`}, 0)
			fx.st.Expunge(ctx, fx.box.ID, nil)
		}()
		for _, rev2 := range []bool{false, true} {
			c := &conn{t: t, caps: Caps{Rev2: rev2}}
			c.bw = bufio.NewWriter(io.Discard)
			c.w = imap.NewWriter(c.bw)
			v, err := Open(ctx, fx.st, fx.box, false, &c.caps, nil, c.w)
			if err != nil {
				t.Fatal(err)
			}
			c.v = v
			for _, line := range fuzzFetches {
				if _, st := c.cmd(line); st != "OK" && st != "NO [UNKNOWN-CTE]" {
					t.Errorf("%s: %s", line, st)
				}
			}
			q := imap.SearchKey{Key: "OR", Keys: []imap.SearchKey{
				{Key: "TEXT", Value: word},
				{Key: "AND", Keys: []imap.SearchKey{{Key: "HEADER", Field: "Subject", Value: word}, {Key: "SENTSINCE", Date: m.InternalDate}}},
			}}
			if _, err := v.Search(ctx, c.w, &imap.SearchArgs{Key: q}, true); err != nil {
				t.Errorf("SEARCH: %v", err)
			}
			v.Release()
		}
	})
}
