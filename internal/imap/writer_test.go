package imap

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestWriter(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(bufio.NewWriter(&buf))
	w.Status("", OK, "UIDVALIDITY 3857529045", "UIDs valid")
	w.Status("A142", OK, "READ-WRITE", "SELECT completed")
	w.Status("a1", NO, "", "")
	w.Status("a2", BAD, "", "line\r\nbreak")
	w.Continue("")
	w.Untagged()
	w.Number(12)
	w.Atom(" FETCH (FLAGS ")
	w.Flags([]string{`\Seen`, "$Forwarded"})
	w.Atom(" INTERNALDATE ")
	w.DateTime(time.Date(1996, 7, 17, 2, 44, 25, 0, time.FixedZone("", -7*3600)))
	w.Atom(" BODY[] ")
	w.Literal(5, strings.NewReader("hello world"))
	w.Atom(" BINARY[1] ")
	w.Literal8(3, strings.NewReader("a\x00b"))
	w.Atom(" MODSEQ (")
	w.Number64(1 << 40)
	w.Atom("))")
	w.CRLF()
	w.Untagged()
	w.Atom("LIST () \"/\" ")
	w.AString("Sent")
	w.SP()
	w.AString("Two words")
	w.SP()
	w.AString("NIL")
	w.SP()
	w.String("caf\xc3\xa9")
	w.SP()
	w.NString("", false)
	w.SP()
	w.String("a\r\nb")
	w.SP()
	w.SeqSet(SeqSetOf([]uint32{1, 2, 3, 9}))
	w.CRLF()
	w.Error(&Error{Status: BAD, Code: "TOOBIG", Text: "too long", Tag: "x"})
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "* OK [UIDVALIDITY 3857529045] UIDs valid\r\n" +
		"A142 OK [READ-WRITE] SELECT completed\r\n" +
		"a1 NO NO\r\n" +
		"a2 BAD line  break\r\n" +
		"+ Ready\r\n" +
		"* 12 FETCH (FLAGS (\\Seen $Forwarded) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" BODY[] {5}\r\nhello BINARY[1] ~{3}\r\na\x00b MODSEQ (1099511627776))\r\n" +
		"* LIST () \"/\" Sent \"Two words\" \"NIL\" {5}\r\ncaf\xc3\xa9 NIL {4}\r\na\r\nb 1:3,9\r\n" +
		"x BAD [TOOBIG] too long\r\n"
	if got := buf.String(); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}

	// With UTF8=ACCEPT, UTF-8 goes quoted.
	buf.Reset()
	w = NewWriter(bufio.NewWriter(&buf))
	w.UTF8 = true
	w.String("caf\xc3\xa9")
	w.String("bad\xff")
	w.Flush()
	if got := buf.String(); got != "\"caf\xc3\xa9\"{4}\r\nbad\xff" {
		t.Errorf("UTF8: %q", got)
	}
}

func TestWriterShortLiteral(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(bufio.NewWriter(&buf))
	w.Literal(10, strings.NewReader("short"))
	if w.Err() == nil {
		t.Fatal("short literal source not reported")
	}
}

func TestAppendStrings(t *testing.T) {
	tests := []struct{ in, str, nstr, astr string }{
		{"", `""`, "NIL", `""`},
		{"abc", `"abc"`, `"abc"`, "abc"},
		{`a"b\c`, `"a\"b\\c"`, `"a\"b\\c"`, `"a\"b\\c"`},
		{"nil", `"nil"`, `"nil"`, `"nil"`},
		{"a]b", `"a]b"`, `"a]b"`, "a]b"},
		{"x\ny", "{3}\r\nx\ny", "{3}\r\nx\ny", "{3}\r\nx\ny"},
	}
	for _, tt := range tests {
		if got := string(AppendString(nil, tt.in)); got != tt.str {
			t.Errorf("AppendString(%q) = %q", tt.in, got)
		}
		if got := string(AppendNString(nil, tt.in)); got != tt.nstr {
			t.Errorf("AppendNString(%q) = %q", tt.in, got)
		}
		if got := string(AppendAString(nil, tt.in)); got != tt.astr {
			t.Errorf("AppendAString(%q) = %q", tt.in, got)
		}
	}
}

func TestDates(t *testing.T) {
	r := newTestReader("\" 7-Feb-1994 21:52:25 -0800\" \"17-Jul-1996 02:44:25 +0130\"", ReaderOptions{})
	for _, want := range []string{`" 7-Feb-1994 21:52:25 -0800"`, `"17-Jul-1996 02:44:25 +0130"`} {
		d, err := r.DateTime()
		if err != nil {
			t.Fatal(err)
		}
		if got := string(AppendDateTime(nil, d)); got != want {
			t.Errorf("got %s want %s", got, want)
		}
		r.maybe(' ')
	}
	for _, bad := range []string{`"7-Feb-1994 21:52:25 -0800"`, `"30-Feb-1994 21:52:25 -0800"`, `" 7-Feb-1994 24:00:00 -0800"`,
		`" 7-Feb-1994 21:52:25 0800"`, `" 7-Xyz-1994 21:52:25 -0800"`, `" 7-Feb-19x4 21:52:25 -0800"`} {
		if _, err := newTestReader(bad, ReaderOptions{}).DateTime(); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
