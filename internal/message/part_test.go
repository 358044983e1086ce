package message

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/imap"
)

func parseFile(t testing.TB, name string) ([]byte, *Part) {
	t.Helper()
	raw := loadMessage(t, "testdata/msg/"+name+".eml")
	p, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return raw, p
}

func TestSections(t *testing.T) {
	raw, p := parseFile(t, "nested-rfc822")
	tests := []struct {
		path   []uint32
		header string // prefix of Header(raw)
		body   string // Body(raw), or its prefix when it ends in "..."
	}{
		{nil, "From: Forwarder", "--outer\r\n..."},
		{[]uint32{1}, "Content-Type: text/plain\r\n\r\n", "See the forwarded message.\r\n"},
		{[]uint32{2}, "Content-Type: message/rfc822\r\n", "From: Original Sender..."},
		{[]uint32{2, 1}, "Content-Type: text/plain; charset=utf-8\r\n\r\n", "Original text."},
		{[]uint32{2, 2}, "Content-Type: text/html", "<p>Original text.</p>"},
	}
	for _, tt := range tests {
		q := p.Find(tt.path)
		if q == nil {
			t.Errorf("Find(%v) = nil", tt.path)
			continue
		}
		if h := string(q.Header(raw)); !strings.HasPrefix(h, tt.header) {
			t.Errorf("Find(%v).Header = %q", tt.path, h)
		}
		body := string(q.Body(raw))
		if want, ok := strings.CutSuffix(tt.body, "..."); ok {
			if !strings.HasPrefix(body, want) {
				t.Errorf("Find(%v).Body = %q", tt.path, body)
			}
		} else if body != tt.body {
			t.Errorf("Find(%v).Body = %q, want %q", tt.path, body, tt.body)
		}
	}
	// BODY[2.HEADER] and BODY[2.TEXT] are the encapsulated message's.
	m := p.Find([]uint32{2}).Message
	if m == nil || !strings.HasPrefix(string(m.Header(raw)), "From: Original Sender") ||
		!strings.HasSuffix(string(m.Header(raw)), "boundary=\"inner\"\r\n\r\n") ||
		!strings.HasPrefix(string(m.Body(raw)), "--inner\r\n") || m.Envelope.Subject != "original" {
		t.Errorf("encapsulated message: %+v", m)
	}
	// 1 below a non-multipart part is the part again, as in Dovecot.
	if p.Find([]uint32{1, 1}) != p.Find([]uint32{1}) || p.Find([]uint32{2, 1, 1}) != p.Find([]uint32{2, 1}) {
		t.Error("1 below a leaf")
	}
	for _, bad := range [][]uint32{{3}, {0}, {1, 2}, {1, 1, 1}, {2, 3}, {2, 1, 2}} {
		if q := p.Find(bad); q != nil {
			t.Errorf("Find(%v) = %+v, want nil", bad, q)
		}
	}

	// A single-part message has one part, its body.
	raw, p = parseFile(t, "simple")
	if p.Find([]uint32{1}) != p || p.Find([]uint32{2}) != nil || p.Find([]uint32{1, 1}) != nil {
		t.Error("single part numbering")
	}
	if got := string(p.Body(raw)); got != "Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n\r\n" {
		t.Errorf("body %q", got)
	}

	// A top-level message/rfc822: 1 is the encapsulated message, 1.1 its body.
	raw, p = parseFile(t, "top-rfc822")
	if p.Find([]uint32{1}) != p || string(p.Find([]uint32{1, 1}).Body(raw)) != "Inner body.\r\n" {
		t.Error("top-level message/rfc822 numbering")
	}
}

func TestHeaderFields(t *testing.T) {
	raw, p := parseFile(t, "simple")
	hdr := p.Header(raw)
	got := string(HeaderFields(hdr, []string{"subject", "FROM", "X-None"}, false))
	want := "From: Fred Foobar <foobar@Blurdybloop.example>\r\nSubject: afternoon meeting\r\n\r\n"
	if got != want {
		t.Errorf("HEADER.FIELDS = %q", got)
	}
	got = string(HeaderFields(hdr, []string{"Received", "return-path", "Date", "From", "Subject", "To", "Message-Id"}, true))
	want = "MIME-Version: 1.0\r\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\n"
	if got != want {
		t.Errorf("HEADER.FIELDS.NOT = %q", got)
	}
	// Folded fields come whole.
	got = string(HeaderFields(hdr, []string{"Received"}, false))
	if !strings.HasPrefix(got, "Received: from mx") || !strings.HasSuffix(got, "-0800\r\n\r\n") || strings.Count(got, "\r\n") != 4 {
		t.Errorf("folded field %q", got)
	}
	if got := string(HeaderFields([]byte("\r\n"), []string{"x"}, false)); got != "\r\n" {
		t.Errorf("empty header %q", got)
	}
	// A header without a blank line and nothing selected gives nothing,
	// as Dovecot answers.
	if got := string(HeaderFields([]byte("A: b\r\n"), []string{"x"}, false)); got != "" {
		t.Errorf("nothing selected %q", got)
	}
}

func TestDecode(t *testing.T) {
	raw, p := parseFile(t, "mixed-attachment")
	b, err := p.Find([]uint32{2}).Decode(raw)
	if err != nil || !strings.HasPrefix(string(b), "%PDF-1.4\n") {
		t.Errorf("base64: %q %v", b, err)
	}
	raw, p = parseFile(t, "alternative")
	b, err = p.Find([]uint32{1}).Decode(raw)
	if err != nil || string(b) != "Café menu for today:\r\nsoup, bread." {
		t.Errorf("quoted-printable: %q %v", b, err)
	}
	raw, p = parseFile(t, "bad-headers")
	if b, err = p.Find([]uint32{1}).Decode(raw); err != nil || string(b) != "hello world" {
		t.Errorf("Base64 in mixed case: %q %v", b, err)
	}
	msg := []byte("Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n")
	p, _ = Parse(msg)
	if _, err := p.Decode(msg); !errors.Is(err, ErrUnknownEncoding) {
		t.Errorf("unknown encoding: %v", err)
	}
	msg = []byte("Content-Transfer-Encoding: base64\r\n\r\naGVsbG8*gd29y\r\nbGQ=garbage")
	p, _ = Parse(msg)
	if b, _ := p.Decode(msg); string(b) != "hello world" {
		t.Errorf("lenient base64: %q", b)
	}
}

func TestParseAddressList(t *testing.T) {
	tests := []struct {
		in   string
		want []Address
	}{
		{"Fred Foobar <foobar@Blurdybloop.example>", []Address{{Name: "Fred Foobar", Mailbox: "foobar", Host: "Blurdybloop.example"}}},
		{"a@b.example (Full Name), \"Q, R\" <q@r> (ignored)", []Address{{Name: "Full Name", Mailbox: "a", Host: "b.example"}, {Name: "Q, R", Mailbox: "q", Host: "r"}}},
		{"a@x, , b@y", []Address{{Mailbox: "a", Host: "x"}, {Mailbox: MissingMailbox, Host: MissingDomain}, {Mailbox: "b", Host: "y"}}},
		{"Name <user@host> extra junk, b@y", []Address{{Name: "Name", Mailbox: "user", Host: "host"}, {Mailbox: "b", Host: "y"}}},
		{"undisclosed-recipients:;", []Address{{Mailbox: "undisclosed-recipients"}, {}}},
		{"team: a@x, b@y;", []Address{{Mailbox: "team"}, {Mailbox: "a", Host: "x"}, {Mailbox: "b", Host: "y"}, {}}},
		{"unclosed: a@x", []Address{{Mailbox: "unclosed"}, {Mailbox: "a", Host: "x"}, {}}},
		{"<@a.example,@b.example:joe@c.example>", []Address{{ADL: "@a.example,@b.example", Mailbox: "joe", Host: "c.example"}}},
		{"joe", []Address{{Mailbox: "joe", Host: MissingDomain}}},
		{"<>", []Address{{Mailbox: MissingMailbox, Host: MissingDomain}}},
		{"\"john doe\"@example.com", []Address{{Mailbox: `"john doe"`, Host: "example.com"}}},
		{"x@[192.0.2.1]", []Address{{Mailbox: "x", Host: "[192.0.2.1]"}}},
		{"=?utf-8?q?J=C3=B6rg?= <j@x>", []Address{{Name: "=?utf-8?q?J=C3=B6rg?=", Mailbox: "j", Host: "x"}}},
		{"", nil},
		{" , ,", []Address{{Mailbox: MissingMailbox, Host: MissingDomain}}},
		{"<<<>>>", []Address{{Mailbox: MissingMailbox, Host: MissingDomain}}},
	}
	for _, tt := range tests {
		if got := ParseAddressList(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseAddressList(%q) =\n %+v\nwant %+v", tt.in, got, tt.want)
		}
	}
}

func TestDepthLimit(t *testing.T) {
	var b strings.Builder
	const depth = 3 * MaxDepth
	for i := range depth {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i)
	}
	b.WriteString("\r\nleaf\r\n")
	raw := []byte(b.String())
	p, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	levels := 0
	for q := p; len(q.Parts) > 0; q = q.Parts[0] {
		levels++
	}
	if levels != MaxDepth {
		t.Errorf("%d levels, want %d", levels, MaxDepth)
	}
	if bs := string(p.BodyStructure(true)); !strings.Contains(bs, `"application" "octet-stream"`) {
		t.Errorf("deepest part not opaque: ...%s", bs[len(bs)-200:])
	}
}

func TestBareLF(t *testing.T) {
	raw := []byte("Subject: lf\nContent-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/html\n\n<p>\n--x--\n")
	p, _ := Parse(raw)
	if p.Envelope.Subject != "lf" || len(p.Parts) != 1 || string(p.Parts[0].Body(raw)) != "<p>" || p.Parts[0].Subtype != "html" {
		t.Errorf("bare LF: %s", p.BodyStructure(true))
	}
}

func TestUnmarshalCorrupt(t *testing.T) {
	_, p := parseFile(t, "nested-rfc822")
	b := Marshal(p)
	for i := range b {
		if _, err := Unmarshal(b[:i]); err == nil {
			t.Fatalf("truncated at %d accepted", i)
		}
	}
	if _, err := Unmarshal(append(b, 0)); err == nil {
		t.Error("trailing data accepted")
	}
}

// A 10 KB multipart/alternative message with an attachment, the shape of
// common mail.
func benchMessage() []byte {
	var b strings.Builder
	b.WriteString("From: \"Sender Name\" <sender@example.com>\r\nTo: a@example.net, \"B\" <b@example.net>\r\n" +
		"Subject: benchmark\r\nDate: Tue, 1 Jul 2025 10:00:00 +0200\r\nMessage-ID: <bench@example.com>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"m\"\r\n\r\n--m\r\n" +
		"Content-Type: multipart/alternative; boundary=\"a\"\r\n\r\n--a\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	for range 40 {
		b.WriteString("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\r\n")
	}
	b.WriteString("--a\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	for range 40 {
		b.WriteString("<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do.</p>\r\n")
	}
	b.WriteString("--a--\r\n--m\r\nContent-Type: application/pdf; name=\"x.pdf\"\r\nContent-Transfer-Encoding: base64\r\n" +
		"Content-Disposition: attachment; filename=\"x.pdf\"\r\n\r\n")
	for range 50 {
		b.WriteString("JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSL0ZpbHRlci9GbGF0ZU\r\n")
	}
	b.WriteString("--m--\r\n")
	return []byte(b.String())
}

func BenchmarkParse10K(b *testing.B) {
	raw := benchMessage()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	p, _ := Parse(benchMessage())
	enc := Marshal(p)
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := Unmarshal(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBodyStructure(b *testing.B) {
	p, _ := Parse(benchMessage())
	var buf []byte
	for b.Loop() {
		buf = p.AppendBodyStructure(buf[:0], true)
	}
}

func TestSectionAndBinary(t *testing.T) {
	raw, p := parseFile(t, "nested-rfc822")
	sec := func(part []uint32, spec string, fields ...string) imap.Section {
		return imap.Section{Part: part, Specifier: spec, Fields: fields}
	}
	inner := p.Find([]uint32{2}).Message
	tests := []struct {
		sec  imap.Section
		want string // "" means ok is false
	}{
		{sec(nil, ""), string(raw)},
		{sec(nil, "HEADER"), string(p.Header(raw))},
		{sec(nil, "TEXT"), string(p.Body(raw))},
		{sec(nil, "HEADER.FIELDS", "subject", "to"), "To: dest@example.org\r\nSubject: Fwd: original\r\n\r\n"},
		{sec(nil, "HEADER.FIELDS.NOT", "from", "to", "subject", "date", "mime-version"), "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"},
		{sec([]uint32{1}, ""), "See the forwarded message.\r\n"},
		{sec([]uint32{1}, "MIME"), "Content-Type: text/plain\r\n\r\n"},
		{sec([]uint32{1}, "HEADER"), ""},
		{sec([]uint32{2}, "HEADER"), string(inner.Header(raw))},
		{sec([]uint32{2}, "TEXT"), string(inner.Body(raw))},
		{sec([]uint32{2}, "HEADER.FIELDS", "Message-ID"), "Message-ID: <orig-1@example.net>\r\n\r\n"},
		{sec([]uint32{2}, "MIME"), "Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n"},
		{sec([]uint32{2, 2}, ""), "<p>Original text.</p>"},
		{sec([]uint32{2, 2}, "MIME"), "Content-Type: text/html; charset=utf-8\r\n\r\n"},
		{sec([]uint32{2, 2}, "TEXT"), ""},
		{sec([]uint32{4}, ""), ""},
	}
	for _, tt := range tests {
		got, ok := p.Section(raw, tt.sec)
		if ok != (tt.want != "") || string(got) != tt.want {
			t.Errorf("BODY%s = %q, %v; want %q", tt.sec.AppendTo(nil), got, ok, tt.want)
		}
	}

	raw, p = parseFile(t, "mixed-attachment")
	if b, err := p.Binary(raw, []uint32{2}); err != nil || !strings.HasPrefix(string(b), "%PDF") {
		t.Errorf("BINARY[2] = %q, %v", b, err)
	}
	if b, err := p.Binary(raw, nil); err != nil || len(b) != len(raw) {
		t.Errorf("BINARY[] = %d octets, %v", len(b), err)
	}
	if _, err := p.Binary(raw, []uint32{3}); !errors.Is(err, ErrNoSection) {
		t.Errorf("BINARY[3]: %v", err)
	}
}
