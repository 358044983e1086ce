package selected

import (
	"bufio"
	"context"
	"io"
	"testing"

	"github.com/posthorn/posthorn/internal/imap"
	"github.com/posthorn/posthorn/internal/message"
	"github.com/posthorn/posthorn/internal/store"
)

// fuzzFetches are the FETCH commands every fuzzed message goes through.
var fuzzFetches = []string{
	"FETCH 1 (FLAGS ENVELOPE BODY BODYSTRUCTURE RFC822.SIZE INTERNALDATE)",
	"FETCH 1 (BODY[] BODY[HEADER] BODY[TEXT] BODY[1] BODY[1.MIME] BODY[2.1.HEADER] BODY[1.TEXT]<3.10>)",
	"FETCH 1 (BODY.PEEK[HEADER.FIELDS (From Subject)] BODY.PEEK[HEADER.FIELDS.NOT (To)] RFC822.HEADER RFC822.TEXT)",
	"FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1] BINARY.PEEK[2.1] BINARY.SIZE[3])",
}

// bodyStore is a real store whose one message has the body under test:
// the fuzz loop runs without a disk write per input.
type bodyStore struct {
	store.Store
	body []byte
}

func (s *bodyStore) MessageBody(context.Context, int64) ([]byte, error) { return s.body, nil }

func (s *bodyStore) MessageStructure(context.Context, int64) ([]byte, error) {
	p, err := message.Parse(s.body)
	if err != nil {
		return nil, err
	}
	return message.Marshal(p), nil
}

func (s *bodyStore) ForEachBody(ctx context.Context, mailboxID int64, uids []uint32, fn func(store.Message, []byte) error) error {
	return s.Store.ForEachBody(ctx, mailboxID, uids, func(m store.Message, _ []byte) error { return fn(m, s.body) })
}

// FuzzFetchSearch runs every kind of FETCH and a SEARCH with text keys on
// a fuzzed message, under IMAP4rev1 and IMAP4rev2: nothing may panic and
// every FETCH answers OK or NO [UNKNOWN-CTE].
func FuzzFetchSearch(f *testing.F) {
	for _, m := range []string{msg1, msg2, msg3, "", "\r\n", "Subject: x\r\n",
		"Content-Type: multipart/mixed; boundary=\"a\"\r\n\r\n--a\r\nContent-Transfer-Encoding: x-uue\r\n\r\nzz\r\n--a",
		"Content-Type: message/rfc822\r\n\r\nContent-Type: multipart/alternative; boundary=q\r\n\r\n--q\r\n\r\n--q--"} {
		f.Add(m, "fertig")
	}
	fx := newFixture(f)
	fx.add(msg1)
	st := &bodyStore{Store: fx.st}
	ctx := context.Background()
	var views [2]*conn
	for i, rev2 := range []bool{false, true} {
		c := &conn{t: f, caps: Caps{Rev2: rev2}}
		c.bw = bufio.NewWriter(io.Discard)
		c.w = imap.NewWriter(c.bw)
		v, err := Open(ctx, st, fx.box, true, &c.caps, nil, c.w)
		if err != nil {
			f.Fatal(err)
		}
		c.v = v
		views[i] = c
		f.Cleanup(v.Release)
	}
	f.Fuzz(func(t *testing.T, body, word string) {
		st.body = []byte(body)
		for _, c := range views {
			c.t = t
			for _, line := range fuzzFetches {
				if _, status := c.cmd(line); status != "OK" && status != "NO [UNKNOWN-CTE]" {
					t.Errorf("%s: %s", line, status)
				}
			}
			q := imap.SearchKey{Key: "OR", Keys: []imap.SearchKey{
				{Key: "TEXT", Value: word},
				{Key: "AND", Keys: []imap.SearchKey{
					{Key: "HEADER", Field: "Subject", Value: word},
					{Key: "SENTSINCE"},
					{Key: "BODY", Value: word},
				}},
			}}
			if _, err := c.v.Search(ctx, c.w, &imap.SearchArgs{Key: q}, true); err != nil {
				t.Errorf("SEARCH: %v", err)
			}
		}
	})
}
