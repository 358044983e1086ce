package selected

import (
	"bufio"
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/imap"
	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/sqlite"
)

// fixture is a real SQLite store with one account and its INBOX.
type fixture struct {
	t    testing.TB
	st   *sqlite.Store
	acct store.Account
	box  store.Mailbox
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "mail.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.AddDomain(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	acct, err := st.AddAccount(ctx, "user@example.org", store.Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	box, err := st.Mailbox(ctx, acct.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, st: st, acct: acct, box: box}
}

func (f *fixture) mailbox(name string) store.Mailbox {
	f.t.Helper()
	mb, err := f.st.Mailbox(context.Background(), f.acct.ID, name)
	if err != nil {
		f.t.Fatal(err)
	}
	return mb
}

// add appends a message to INBOX.
func (f *fixture) add(body string, flags ...string) store.Message {
	f.t.Helper()
	m, err := f.st.Append(context.Background(), f.box.ID, store.AppendOptions{
		Flags: flags, InternalDate: time.Date(2024, 3, 5, 10, 20, 30, 0, time.UTC),
	}, []byte(body))
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

// conn is one session's selected state with its output.
type conn struct {
	t    testing.TB
	v    *View
	caps Caps
	buf  bytes.Buffer
	bw   *bufio.Writer
	w    *imap.Writer
}

func (f *fixture) open(caps Caps, readOnly bool, args *imap.SelectArgs) *conn {
	f.t.Helper()
	c := &conn{t: f.t, caps: caps}
	c.bw = bufio.NewWriter(&c.buf)
	c.w = imap.NewWriter(c.bw)
	v, err := Open(context.Background(), f.st, f.box, readOnly, &c.caps, args, c.w)
	if err != nil {
		f.t.Fatal(err)
	}
	c.v = v
	f.t.Cleanup(v.Release)
	return c
}

// out returns what was written since the last call.
func (c *conn) out() string {
	c.t.Helper()
	if err := c.w.Flush(); err != nil {
		c.t.Fatal(err)
	}
	s := c.buf.String()
	c.buf.Reset()
	return s
}

func (c *conn) sync(allowExpunge bool) string {
	c.t.Helper()
	if err := c.v.Sync(context.Background(), c.w, allowExpunge); err != nil {
		c.t.Fatal(err)
	}
	return c.out()
}

// cmd parses one command line (as a client sends it) and runs it on the
// view, returning the untagged output and the tagged result line.
func (c *conn) cmd(line string) (string, string) {
	c.t.Helper()
	r := imap.NewReader(bufio.NewReader(strings.NewReader("t "+line+"\r\n")), imap.ReaderOptions{})
	cmd, err := r.ReadCommand()
	if err != nil {
		c.t.Fatalf("%s: %v", line, err)
	}
	ctx := context.Background()
	var res Result
	switch cmd.Name {
	case "FETCH":
		res, err = c.v.Fetch(ctx, c.w, cmd.Args.(*imap.FetchArgs), cmd.UID)
	case "STORE":
		res, err = c.v.Store(ctx, c.w, cmd.Args.(*imap.StoreArgs), cmd.UID)
	case "SEARCH":
		res, err = c.v.SearchTagged(ctx, c.w, cmd.Tag, cmd.Args.(*imap.SearchArgs), cmd.UID)
	case "EXPUNGE":
		var set *imap.SeqSet
		if cmd.UID {
			set = &cmd.Args.(*imap.ExpungeArgs).Set
		}
		res, err = c.v.Expunge(ctx, c.w, set)
	default:
		c.t.Fatalf("cmd: %s not handled here", cmd.Name)
	}
	return c.out(), status(err, res)
}

func status(err error, res Result) string {
	if err != nil {
		e, ok := err.(*imap.Error)
		if !ok {
			return "ERR " + err.Error()
		}
		if e.Code != "" {
			return string(e.Status) + " [" + e.Code + "]"
		}
		return string(e.Status)
	}
	if res.Code != "" {
		return "OK [" + res.Code + "]"
	}
	return "OK"
}

// lines splits output into response lines without CRLF.
func lines(s string) []string {
	s = strings.TrimSuffix(s, "\r\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\r\n")
}

func wantOut(t testing.TB, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\ngot:\n%s\nwant:\n%s", what, got, want)
	}
}

const msg1 = "From: Alice <alice@example.org>\r\n" +
	"To: Bob <bob@example.net>\r\n" +
	"Subject: Lunch tomorrow\r\n" +
	"Date: Mon, 4 Mar 2024 09:00:00 +0100\r\n" +
	"Message-ID: <1@example.org>\r\n" +
	"\r\n" +
	"Shall we meet at noon?\r\n"

const msg2 = "From: Carol <carol@example.com>\r\n" +
	"To: user@example.org\r\n" +
	"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n" +
	"Date: Tue, 5 Mar 2024 10:00:00 +0000\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=b\r\n" +
	"\r\n" +
	"--b\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"Das Fr=C3=BChst=C3=BCck ist fertig.\r\n" +
	"--b\r\n" +
	"Content-Type: application/octet-stream\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"AAECAwQ=\r\n" +
	"--b--\r\n"

const msg3 = "From: dave@example.org\r\n" +
	"Subject: Report\r\n" +
	"Date: Wed, 6 Mar 2024 11:00:00 +0000\r\n" +
	"\r\n" +
	"The quarterly numbers are attached. Budget looks fine.\r\n"
