package message

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/imap"
)

// goldenValue decodes a recorded FETCH value: a literal or literal8, a
// quoted string, or NIL.
func goldenValue(t *testing.T, s string) (b []byte, isNil bool) {
	t.Helper()
	switch {
	case s == "NIL":
		return nil, true
	case strings.HasPrefix(s, "~{"):
		s = s[1:]
		fallthrough
	case strings.HasPrefix(s, "{"):
		n, start, ok := literalAt([]byte(s), 0)
		if !ok || start+n != len(s) {
			t.Fatalf("bad literal %q", s)
		}
		return []byte(s[start:]), false
	case s != "" && strings.Trim(s, "0123456789") == "":
		return []byte(s), false // a number, as for BINARY.SIZE
	case strings.HasPrefix(s, `"`):
		u, err := strconv.Unquote(s)
		if err != nil {
			t.Fatalf("bad quoted %q", s)
		}
		return []byte(u), false
	}
	t.Fatalf("unexpected value %q", s)
	return nil, false
}

// splitSections splits a .sections golden file, whose values may be
// literals8 too.
func splitSections(t *testing.T, b []byte) [][2]string {
	var out [][2]string
	for len(b) > 0 {
		sp := strings.IndexByte(string(b), ' ')
		name := string(b[:sp])
		i := sp + 1
		if i < len(b) && b[i] == '~' {
			i++
		}
		if n, start, ok := literalAt(b, i); ok {
			i = start + n
		} else {
			for i < len(b) && b[i] != '\n' {
				i++
			}
		}
		out = append(out, [2]string{name, string(b[sp+1 : i])})
		b = b[min(i+1, len(b)):]
	}
	return out
}

// TestGoldenSections compares Part.Section and Part.Binary with Dovecot's
// BODY[section] and BINARY[part] answers (testdata/golden/*.sections, from
// testdata/golden.py). Dovecot answers a section the message lacks with an
// empty string.
func TestGoldenSections(t *testing.T) {
	paths, _ := filepath.Glob("testdata/msg/*.eml")
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".eml")
		t.Run(name, func(t *testing.T) {
			golden, err := os.ReadFile(filepath.Join("testdata/golden", name+".sections"))
			if err != nil {
				t.Fatal(err)
			}
			raw := loadMessage(t, path)
			p, _ := Parse(raw)
			for _, kv := range splitSections(t, golden) {
				item, value := strings.ReplaceAll(kv[0], "+", " "), kv[1]
				r := imap.NewReader(bufio.NewReader(strings.NewReader(item+"\r\n")), imap.ReaderOptions{})
				items, err := r.FetchItems()
				if err != nil || len(items) != 1 {
					t.Fatalf("%s: %v", item, err)
				}
				want, _ := goldenValue(t, value)
				var got []byte
				if items[0].Name == "BINARY.SIZE" {
					// Compare the size of what BINARY gives.
					b, err := p.Binary(raw, items[0].Section.Part)
					if err != nil {
						b = nil
					}
					got = []byte(strconv.Itoa(len(b)))
				} else if items[0].Name == "BINARY" {
					got, err = p.Binary(raw, items[0].Section.Part)
					if err != nil {
						got = nil
					}
				} else {
					got, _ = p.Section(raw, *items[0].Section)
				}
				why, deviates := sectionDeviation(name, item)
				switch {
				case deviates && string(got) == string(want):
					t.Errorf("%s: listed as a deviation but equal to Dovecot's", item)
				case deviates:
					t.Logf("%s: deviating from Dovecot on purpose: %s", item, why)
				case string(got) != string(want):
					t.Errorf("%s\n got %q\nwant %q", item, got, want)
				}
			}
		})
	}
}

// sectionDeviation says where posthorn knowingly differs, and why.
func sectionDeviation(name, item string) (string, bool) {
	item = strings.Replace(item, "BINARY.SIZE[", "BINARY[", 1) // the same cause
	switch {
	case name == "message-global" && (item == "BODY[1.HEADER]" || item == "BODY[1.1]" || item == "BODY[1.1.MIME]" || item == "BINARY[1.1]"):
		return "RFC 9051 §6.4.5 numbers into MESSAGE/GLOBAL parts like MESSAGE/RFC822; Dovecot 2.3 (IMAP4rev1) treats it as a leaf", true
	case name == "py-mixed" && (item == "BINARY[1]" || item == "BINARY[1.2]"):
		return "BINARY of a multipart: Dovecot re-serialises it with every part decoded; posthorn returns the body as stored", true
	case name == "rfc822-base64" && item == "BODY[1]":
		return "RFC 2046 §5.1.1: the line break before a delimiter belongs to the delimiter (see TestGolden)", true
	case name == "rfc822-base64" && item == "BINARY[1]":
		return "a base64 message/rfc822 part (invalid per RFC 2046 §5.2.1) is decoded; Dovecot returns it undecoded", true
	}
	return "", false
}
