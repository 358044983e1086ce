package sendmail

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestReadMessage(t *testing.T) {
	for _, c := range []struct {
		in         string
		ignoreDots bool
		want       string
	}{
		{"a\nb", false, "a\r\nb\r\n"},
		{"a\r\nb\r\n", false, "a\r\nb\r\n"},
		{"a\n.\nb\n", false, "a\r\n"},
		{"a\n.\r\nb\n", false, "a\r\n"},
		{"a\n.\nb\n", true, "a\r\n.\r\nb\r\n"},
		{"a\n..\n.b\n", false, "a\r\n..\r\n.b\r\n"},
		{".", false, ""},
		{"", false, ""},
		{"x\n\n\n", false, "x\r\n\r\n\r\n"},
	} {
		got, err := ReadMessage(strings.NewReader(c.in), c.ignoreDots)
		if err != nil || string(got) != c.want {
			t.Errorf("ReadMessage(%q, %v) = %q, %v; want %q", c.in, c.ignoreDots, got, err, c.want)
		}
	}
}

func TestMessageEdits(t *testing.T) {
	raw, _ := ReadMessage(strings.NewReader("To: a@x.test,\n  \"B\" <b@x.test>\nCC: c@y.test\nbcc: d@z.test, a@x.test\nSubject: hi\n\nbody\nTo: not@header.test\n"), true)
	m := ParseMessage(raw)
	rcpts, err := m.Recipients()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a@x.test", "b@x.test", "c@y.test", "d@z.test", "a@x.test"}; !reflect.DeepEqual(rcpts, want) {
		t.Errorf("recipients %q, want %q", rcpts, want)
	}
	if got := appendNew(nil, rcpts...); len(got) != 4 {
		t.Errorf("appendNew kept duplicates: %q", got)
	}
	m.RemoveBcc()
	m.AddFrom("Web Shop", "noreply@x.test")
	want := "From: \"Web Shop\" <noreply@x.test>\r\nTo: a@x.test,\r\n  \"B\" <b@x.test>\r\nCC: c@y.test\r\nSubject: hi\r\n\r\nbody\r\nTo: not@header.test\r\n"
	if got := string(m.Bytes()); got != want {
		t.Errorf("edited:\n%q\nwant\n%q", got, want)
	}
	m.AddFrom("Other", "other@x.test") // From: present: unchanged
	if got := string(m.Bytes()); got != want {
		t.Errorf("second AddFrom changed the message:\n%q", got)
	}

	// Plain text without a header: all body, an empty line goes in front.
	m = ParseMessage([]byte("cron output: 3 files\r\n"))
	m.AddFrom("", "root@host.test")
	if got := string(m.Bytes()); got != "From: <root@host.test>\r\n\r\ncron output: 3 files\r\n" {
		t.Errorf("plain text: %q", got)
	}
	// Empty groups and empty fields name nobody.
	m = ParseMessage([]byte("To: undisclosed-recipients:;\r\nBcc:\r\n\r\nx\r\n"))
	if r, err := m.Recipients(); err != nil || len(r) != 0 {
		t.Errorf("empty group: %q, %v", r, err)
	}
	if _, err := ParseMessage([]byte("To: <<broken\r\n\r\n")).Recipients(); err == nil {
		t.Error("a broken To: was accepted")
	}
	// Bare local parts, as scripts write them.
	if r, err := ParseMessage([]byte("To: root, www-data\r\n\r\n")).Recipients(); err != nil || !reflect.DeepEqual(r, []string{"root", "www-data"}) {
		t.Errorf("bare names: %q, %v", r, err)
	}
}

func TestSplitRecipients(t *testing.T) {
	got, err := splitRecipients("a@x.test, Bob <b@y.test>,root")
	if err != nil || !reflect.DeepEqual(got, []string{"a@x.test", "b@y.test", "root"}) {
		t.Errorf("got %q, %v", got, err)
	}
	if _, err := splitRecipients("a b@x"); err == nil {
		t.Error("an address with a space was accepted")
	}
}

func TestExitForReply(t *testing.T) {
	for _, c := range []struct {
		code int
		enh  [3]int
		want int
	}{
		{451, [3]int{4, 3, 0}, ExitTempFail},
		{421, [3]int{4, 7, 0}, ExitTempFail},
		{550, [3]int{5, 1, 1}, ExitNoUser},
		{550, [3]int{5, 7, 1}, ExitNoPerm},
		{552, [3]int{5, 3, 4}, ExitDataErr},
		{550, [3]int{5, 6, 0}, ExitDataErr},
		{501, [3]int{5, 1, 3}, ExitDataErr},
		{554, [3]int{5, 0, 0}, ExitUnavailable},
		{250, [3]int{2, 0, 0}, ExitProtocol},
	} {
		if got := exitForReply(c.code, c.enh); got != c.want {
			t.Errorf("%d %v: exit %d, want %d", c.code, c.enh, got, c.want)
		}
	}
}

func FuzzParseMessage(f *testing.F) {
	f.Add([]byte("To: a@x.test\nBcc: b@y.test\nSubject: s\n\nbody\n.\nmore\n"), false)
	f.Add([]byte("plain text\n"), true)
	f.Add([]byte("To: g: a@x, b@y;\r\n \r\n\r\n"), true)
	f.Fuzz(func(t *testing.T, in []byte, ignoreDots bool) {
		raw, err := ReadMessage(bytes.NewReader(in), ignoreDots)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Count(raw, []byte("\n")) != bytes.Count(raw, []byte("\r\n")) {
			t.Fatalf("bare LF in %q", raw)
		}
		m := ParseMessage(raw)
		m.Recipients()
		m.RemoveBcc()
		if m.Has("Bcc") {
			t.Fatalf("Bcc left in %q", raw)
		}
		m.AddFrom("N", "a@b.test")
		out := m.Bytes()
		if !m.Has("From") || !bytes.Contains(out, []byte("\r\n\r\n")) && !bytes.HasPrefix(out, []byte("\r\n")) {
			t.Fatalf("no From: or no header end in %q", out)
		}
		if again := ParseMessage(out); !reflect.DeepEqual(again.Header, m.Header) {
			t.Fatalf("header changed on reparse:\n%q\n%q", again.Header, m.Header)
		}
	})
}
