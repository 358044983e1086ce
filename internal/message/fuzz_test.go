package message

import (
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParse checks that Parse never panics and always yields a consistent
// structure: offsets nested and in range, every part reachable by its
// section number, a BODYSTRUCTURE that is one well-formed IMAP list, and a
// cached form that reads back equal. Seeds: testdata/msg/*.eml and
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	paths, _ := filepath.Glob("testdata/msg/*.eml")
	for _, path := range paths {
		f.Add(loadMessage(f, path))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		checkPart(t, p, raw, 0, len(raw))
		checkNumbering(t, p, p, nil)
		for _, ext := range []bool{true, false} {
			if bs := p.BodyStructure(ext); !wellFormed(bs) {
				t.Fatalf("BODYSTRUCTURE %q is not one IMAP list", bs)
			}
			if bs := p.AppendBodyStructureRev1(nil, ext); !wellFormed(bs) {
				t.Fatalf("rev1 BODYSTRUCTURE %q is not one IMAP list", bs)
			}
		}
		if env := []byte(p.Envelope.String()); !wellFormed(env) {
			t.Fatalf("ENVELOPE %q is not one IMAP list", env)
		}
		q, err := Unmarshal(Marshal(p))
		if err != nil || !reflect.DeepEqual(p, q) {
			t.Fatalf("Marshal round trip: %v", err)
		}
	})
}

func checkPart(t *testing.T, p *Part, raw []byte, lo, hi int) {
	t.Helper()
	if !(lo <= p.HeaderStart && p.HeaderStart <= p.HeaderEnd && p.HeaderEnd <= p.BodyStart &&
		p.BodyStart <= p.BodyEnd && p.BodyEnd <= hi) {
		t.Fatalf("part offsets %d %d %d %d outside %d:%d", p.HeaderStart, p.HeaderEnd, p.BodyStart, p.BodyEnd, lo, hi)
	}
	if p.Type == "" || p.Subtype == "" || p.Encoding == "" {
		t.Fatalf("part without type or encoding: %+v", p)
	}
	for _, c := range p.Parts {
		checkPart(t, c, raw, p.BodyStart, p.BodyEnd)
	}
	if p.Message != nil {
		if p.Message.Envelope == nil {
			t.Fatal("encapsulated message without envelope")
		}
		checkPart(t, p.Message, raw, p.BodyStart, p.BodyEnd)
	}
}

// checkNumbering walks the tree and checks Find gives each part back.
func checkNumbering(t *testing.T, root, p *Part, path []uint32) {
	t.Helper()
	if len(path) > 0 {
		if got := root.Find(path); got != p {
			t.Fatalf("Find(%v) does not give the part back", path)
		}
	}
	parent := p
	if len(path) > 0 && p.Message != nil {
		parent = p.Message
	}
	for i, c := range parent.Parts {
		checkNumbering(t, root, c, append(path[:len(path):len(path)], uint32(i+1)))
	}
}

// wellFormed reports whether b is exactly one parenthesised IMAP list of
// NIL, numbers, quoted strings, literals and lists.
func wellFormed(b []byte) bool {
	depth, i := 0, 0
	for i < len(b) {
		switch c := b[i]; {
		case c == '(':
			depth++
			i++
		case c == ')':
			depth--
			i++
			if depth < 0 || (depth == 0 && i != len(b)) {
				return false
			}
		case c == ' ':
			i++
		case c == '"':
			i++
			for i < len(b) && b[i] != '"' {
				if b[i] == '\\' {
					i++
				}
				if i < len(b) && (b[i] == '\r' || b[i] == '\n' || b[i] >= 0x80) {
					return false
				}
				i++
			}
			if i >= len(b) {
				return false
			}
			i++
		case c == '{':
			n, start, ok := literalAt(b, i)
			if !ok {
				return false
			}
			i = start + n
		case c >= '0' && c <= '9':
			for i < len(b) && b[i] >= '0' && b[i] <= '9' {
				i++
			}
		case c == 'N' && i+3 <= len(b) && string(b[i:i+3]) == "NIL":
			i += 3
		default:
			return false
		}
	}
	return depth == 0 && len(b) > 0 && b[0] == '('
}
