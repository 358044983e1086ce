package compose

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// FuzzBuild: whatever passes Validate builds without error, parses back
// with go-message to the same subject, display name, filename and bytes,
// keeps CRLF lines under 998 octets, and stays within a size bound.
func FuzzBuild(f *testing.F) {
	f.Add("Grüße", "Zoë", "text\nline", "<p>x</p>", "Prüf.pdf", "image/png", "cid1", "X-Tag", "v", []byte("\x00\xff"))
	f.Add(strings.Repeat("日本語 ", 50), "", strings.Repeat("x", 3000), "", "a.txt", "", "", "", "", []byte("a\r\nb"))
	f.Add("", "\"quoted\" <x>", "", "só html", "", "", "logo", "List-Id", "<a.b>", []byte{})
	f.Fuzz(func(t *testing.T, subject, name, text, html, filename, ctype, cid, hname, hval string, data []byte) {
		m := Message{
			From:    Address{Name: name, Email: "a@example.org"},
			To:      []Address{{Name: name, Email: "b@example.com"}},
			Subject: subject, Text: text, HTML: html,
		}
		if filename != "" || cid != "" {
			m.Attachments = []Attachment{{Filename: filename, ContentType: ctype, ContentID: cid, Content: base64.StdEncoding.EncodeToString(data)}}
		}
		if hname != "" {
			m.Headers = map[string]string{hname: hval}
		}
		raw, err := Build(&m, Options{})
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Build failed without a FieldError: %v", err)
			}
			return
		}
		checkLines(t, raw)
		in := len(subject) + len(name)*2 + len(text) + len(html) + len(filename)*2 + len(ctype) + len(cid) + len(hname) + len(hval) + len(data)
		if len(raw) > 4*in+4096 {
			t.Fatalf("%d bytes out for %d in", len(raw), in)
		}
		h, leaves := goMessageLeaves(t, raw)
		// Unstructured fields lose white space at their ends to unfolding
		// and the parser's trimming (RFC 5322 §2.2.3), as display names do.
		if got, _ := h.Subject(); got != subject && got != strings.TrimSpace(subject) {
			t.Fatalf("subject %q, want %q", got, subject)
		}
		from, err := h.AddressList("From")
		if err != nil || len(from) != 1 || from[0].Name != strings.TrimSpace(name) && from[0].Name != name {
			t.Fatalf("From %v (%v), want name %q", from, err, name)
		}
		if m.Attachments != nil {
			last := leaves[len(leaves)-1]
			if filename != "" && last.Filename != filename {
				t.Fatalf("filename %q, want %q", last.Filename, filename)
			}
			if !bytes.Equal(last.Data, data) {
				t.Fatalf("attachment bytes differ")
			}
		}
	})
}
