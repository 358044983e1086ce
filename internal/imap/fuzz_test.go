package imap

import (
	"bufio"
	"bytes"
	"io"
	"reflect"
	"testing"
	"unicode/utf8"
)

// Seed corpora live in testdata/fuzz/<FuzzName>/ (go test runs them as
// regression tests); f.Add adds a few more inline.

// FuzzReadCommand reads commands from arbitrary input without panicking,
// and checks that every command read re-encodes (Command.AppendTo) into
// input that reads back as the same command and encodes identically.
func FuzzReadCommand(f *testing.F) {
	for _, s := range []string{
		"a FETCH 1:* (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (From To)]<0.10>)\r\n",
		"a SEARCH OR (SEEN FLAGGED) NOT SINCE 1-Feb-1994\r\n",
		"a APPEND INBOX (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" {3+}\r\nabc\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		limits := ReaderOptions{MaxLine: 4096, MaxLiteral: 4096, MaxAppend: 4096}
		r := NewReader(bufio.NewReader(bytes.NewReader(data)), limits)
		for range 8 {
			cmd, err := r.ReadCommand()
			if err != nil {
				pe := AsError(err)
				if pe == nil || pe.Fatal {
					return
				}
				if pe.Text == "" || (pe.Status != BAD && pe.Status != NO) {
					t.Fatalf("error without text or status: %+v", pe)
				}
				continue
			}
			enc := cmd.AppendTo(nil)
			r2 := NewReader(bufio.NewReader(bytes.NewReader(enc)), ReaderOptions{MaxLine: 1 << 20, MaxLiteral: 1 << 20, MaxAppend: 1 << 20})
			cmd2, err := r2.ReadCommand()
			if err != nil {
				t.Fatalf("re-encoded %q does not read back: %v", enc, err)
			}
			if _, err := r2.ReadCommand(); err != io.EOF {
				t.Fatalf("re-encoded %q reads as more than one command: %v", enc, err)
			}
			if enc2 := cmd2.AppendTo(nil); !bytes.Equal(enc, enc2) {
				t.Fatalf("encoding not stable:\n%q\n%q", enc, enc2)
			}
			if !reflect.DeepEqual(withoutDates(cmd), withoutDates(cmd2)) {
				t.Fatalf("round trip changed the command:\n%#v\n%#v", cmd, cmd2)
			}
		}
	})
}

// withoutDates drops APPEND dates, whose time.Location pointers differ
// between parses; the encoding comparison covers them.
func withoutDates(c *Command) *Command {
	a, ok := c.Args.(*AppendArgs)
	if !ok {
		return c
	}
	cp := *a
	cp.Messages = append([]AppendMessage(nil), a.Messages...)
	for i := range cp.Messages {
		cp.Messages[i].Date = cp.Messages[i].Date.UTC()
	}
	c2 := *c
	c2.Args = &cp
	return &c2
}

// FuzzSeqSet checks parsing, printing and the resolved operations against
// a naive model.
func FuzzSeqSet(f *testing.F) {
	for _, s := range []string{"1", "1:*", "*:4,7", "$", "5:3,2,9:12,11"} {
		f.Add(s, uint32(10), uint32(4))
	}
	f.Fuzz(func(t *testing.T, s string, last, probe uint32) {
		set, err := ParseSeqSet(s)
		if err != nil {
			return
		}
		again, err := ParseSeqSet(set.String())
		if err != nil || !equalSet(set, again) {
			t.Fatalf("%q: String %q reads back as %v, %v", s, set.String(), again, err)
		}
		if set.Saved {
			return
		}
		last %= 1 << 20
		res := set.Resolve(last)
		for i, r := range res.Ranges {
			if r.Start == 0 || r.Start > r.Stop || r.Stop > last {
				t.Fatalf("%q last %d: bad range %v", s, last, r)
			}
			if i > 0 && uint64(res.Ranges[i-1].Stop)+1 >= uint64(r.Start) {
				t.Fatalf("%q last %d: ranges not merged: %v", s, last, res)
			}
		}
		for _, n := range []uint32{probe % (last + 2), 1, last, last + 1} {
			if got, want := res.Contains(n), naiveContains(set, last, n); got != want {
				t.Fatalf("%q last %d: Contains(%d) = %v, want %v", s, last, n, got, want)
			}
		}
	})
}

func naiveContains(s SeqSet, last, n uint32) bool {
	if n == 0 || n > last {
		return false
	}
	for _, r := range s.Ranges {
		a, b := r.Start, r.Stop
		if a == Star {
			a = last
		}
		if b == Star {
			b = last
		}
		if a > b {
			a, b = b, a
		}
		if a <= n && n <= b {
			return true
		}
	}
	return false
}

// FuzzSearchKey checks that a search program that parses prints back into
// one that parses to the same tree.
func FuzzSearchKey(f *testing.F) {
	for _, s := range []string{
		"FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"",
		"OR (SEEN FLAGGED) (UID 1:5 LARGER 100)",
		"MODSEQ \"/flags/\\\\draft\" all 620162338",
		"HEADER X-Spam {3+}\r\nyes",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := newTestReader(s+"\r\n", ReaderOptions{MaxLine: 4096, MaxLiteral: 4096})
		k, err := r.SearchKeys()
		if err != nil {
			return
		}
		enc := k.appendTo(nil, true)
		r2 := newTestReader(string(enc)+"\r\n", ReaderOptions{MaxLine: 1 << 20, MaxLiteral: 1 << 20})
		k2, err := r2.SearchKeys()
		if err != nil {
			t.Fatalf("%q re-encoded as %q: %v", s, enc, err)
		}
		if !reflect.DeepEqual(k, k2) {
			t.Fatalf("%q: round trip via %q changed the key:\n%#v\n%#v", s, enc, k, k2)
		}
	})
}

// FuzzUTF7 checks decode(encode(x)) == x for UTF-8 names, and that the
// strict decoder only accepts canonical encodings.
func FuzzUTF7(f *testing.F) {
	for _, s := range []string{"~peter/mail/台北/日本語", "&", "Entwürfe", "😀", "&U,BTFw-", "a&-b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if utf8.ValidString(s) {
			enc := EncodeMailbox(s)
			dec, err := DecodeMailbox(enc)
			if err != nil || dec != s {
				t.Fatalf("%q → %q → %q, %v", s, enc, dec, err)
			}
			for i := 0; i < len(enc); i++ {
				if enc[i] < 0x20 || enc[i] > 0x7e {
					t.Fatalf("%q encodes to non-ASCII %q", s, enc)
				}
			}
		}
		if dec, err := DecodeMailbox(s); err == nil {
			if !utf8.ValidString(dec) {
				t.Fatalf("%q decodes to invalid UTF-8 %q", s, dec)
			}
			if enc := EncodeMailbox(dec); enc != s {
				t.Fatalf("%q accepted but not canonical: re-encodes as %q", s, enc)
			}
		}
	})
}
