package imap

import (
	"strconv"
)

// FetchItem is one fetch-att of FETCH (RFC 9051 §6.4.5, §9; RFC 3516 for
// BINARY; RFC 7162 for MODSEQ).
//
// Name is the attribute in upper case: ENVELOPE, FLAGS, INTERNALDATE,
// RFC822.SIZE, RFC822, RFC822.HEADER, RFC822.TEXT, BODY, BODYSTRUCTURE, UID,
// MODSEQ, BINARY, BINARY.SIZE, SAVEDATE, EMAILID, THREADID. "BODY" with a
// Section is BODY[...] (the non-extensible structure is BODY without one).
type FetchItem struct {
	Name    string
	Section *Section // BODY[...] and BINARY[...]; nil otherwise
	Peek    bool     // BODY.PEEK / BINARY.PEEK: do not set \Seen
	Partial *Partial // <offset.count>
}

// Section is a body section (RFC 9051 §6.4.5 BODY[<section>]).
type Section struct {
	Part []uint32 // "1.2.3"; empty for the whole message
	// Specifier is "", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT",
	// "TEXT" or "MIME" (MIME only with a part).
	Specifier string
	Fields    []string // header field names for HEADER.FIELDS[.NOT]
}

// Partial is <offset.count> of a BODY or BINARY fetch.
type Partial struct {
	Offset, Count uint64
}

// Fetch macros (RFC 9051 §6.4.5).
func fetchMacro(name string) []FetchItem {
	fast := []FetchItem{{Name: "FLAGS"}, {Name: "INTERNALDATE"}, {Name: "RFC822.SIZE"}}
	switch name {
	case "FAST":
		return fast
	case "ALL":
		return append(fast, FetchItem{Name: "ENVELOPE"})
	case "FULL":
		return append(fast, FetchItem{Name: "ENVELOPE"}, FetchItem{Name: "BODY"})
	}
	return nil
}

func isFetchNameChar(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || isDigit(c) || c == '.' || c == '-' || c == '_'
}

// FetchItems reads the fetch attributes of FETCH: a macro, one attribute or
// a parenthesised list. Macros are expanded.
func (r *Reader) FetchItems() ([]FetchItem, error) {
	if r.peek() != '(' {
		name, err := r.chars(isFetchNameChar, "fetch attribute")
		if err != nil {
			return nil, err
		}
		name = toUpper(name)
		if m := fetchMacro(name); m != nil {
			return m, nil
		}
		it, err := r.fetchItem(name)
		if err != nil {
			return nil, err
		}
		return []FetchItem{it}, nil
	}
	var items []FetchItem
	err := r.List(func() error {
		name, err := r.chars(isFetchNameChar, "fetch attribute")
		if err != nil {
			return err
		}
		it, err := r.fetchItem(toUpper(name))
		if err != nil {
			return err
		}
		items = append(items, it)
		return nil
	})
	if err == nil && len(items) == 0 {
		err = r.bad("empty fetch attribute list")
	}
	return items, err
}

func (r *Reader) fetchItem(name string) (FetchItem, error) {
	it := FetchItem{Name: name}
	switch name {
	case "ENVELOPE", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "RFC822", "RFC822.HEADER",
		"RFC822.TEXT", "BODYSTRUCTURE", "UID", "MODSEQ", "SAVEDATE", "EMAILID", "THREADID":
		return it, nil
	case "BODY":
		if r.peek() != '[' {
			return it, nil
		}
	case "BODY.PEEK":
		it.Name, it.Peek = "BODY", true
	case "BINARY", "BINARY.SIZE":
	case "BINARY.PEEK":
		it.Name, it.Peek = "BINARY", true
	default:
		return it, r.bad("unknown fetch attribute %s", name)
	}
	sec, err := r.section(it.Name != "BODY")
	if err != nil {
		return it, err
	}
	it.Section = &sec
	if it.Name != "BINARY.SIZE" && r.peek() == '<' {
		p, err := r.partial()
		if err != nil {
			return it, err
		}
		it.Partial = &p
	}
	return it, nil
}

// section reads "[" [section-spec] "]"; binary restricts it to a part
// number (section-binary, RFC 9051 §9).
func (r *Reader) section(binary bool) (Section, error) {
	var sec Section
	if err := r.Expect('['); err != nil {
		return sec, err
	}
	dot := false
	for isDigit(r.peek()) {
		n, err := r.NZNumber()
		if err != nil {
			return sec, err
		}
		sec.Part = append(sec.Part, n)
		if dot = r.maybe('.'); !dot {
			break
		}
	}
	if binary {
		if dot || !r.maybe(']') {
			return sec, r.bad("invalid binary section")
		}
		return sec, nil
	}
	if r.maybe(']') {
		if dot {
			return sec, r.bad("invalid section")
		}
		return sec, nil
	}
	if len(sec.Part) > 0 && !dot {
		return sec, r.bad("invalid section")
	}
	spec, err := r.chars(func(c byte) bool { return 'A' <= upper(c) && upper(c) <= 'Z' || c == '.' }, "section text")
	if err != nil {
		return sec, err
	}
	spec = toUpper(spec)
	switch spec {
	case "HEADER", "TEXT":
	case "MIME":
		if len(sec.Part) == 0 {
			return sec, r.bad("MIME needs a part number")
		}
	case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
		if err := r.SP(); err != nil {
			return sec, err
		}
		err := r.List(func() error {
			f, err := r.AString()
			sec.Fields = append(sec.Fields, f)
			return err
		})
		if err != nil {
			return sec, err
		}
		if len(sec.Fields) == 0 {
			return sec, r.bad("empty header list")
		}
	default:
		return sec, r.bad("invalid section text")
	}
	sec.Specifier = spec
	if err := r.Expect(']'); err != nil {
		return sec, err
	}
	return sec, nil
}

// partial reads "<" number64 "." nz-number64 ">".
func (r *Reader) partial() (Partial, error) {
	var p Partial
	var err error
	if err = r.Expect('<'); err != nil {
		return p, err
	}
	if p.Offset, err = r.Number64(); err != nil {
		return p, err
	}
	if err = r.Expect('.'); err != nil {
		return p, err
	}
	if p.Count, err = r.Number64(); err != nil {
		return p, err
	}
	if p.Count == 0 {
		return p, r.bad("partial count must not be zero")
	}
	return p, r.Expect('>')
}

// AppendTo appends the item as a client writes it in FETCH.
func (it FetchItem) AppendTo(b []byte) []byte {
	b = append(b, it.Name...)
	if it.Peek {
		b = append(b, ".PEEK"...)
	}
	if it.Section != nil {
		b = it.Section.AppendTo(b)
	}
	if it.Partial != nil {
		b = append(b, '<')
		b = strconv.AppendUint(b, it.Partial.Offset, 10)
		b = append(b, '.')
		b = strconv.AppendUint(b, it.Partial.Count, 10)
		b = append(b, '>')
	}
	return b
}

// String returns the item as a client writes it.
func (it FetchItem) String() string { return string(it.AppendTo(nil)) }

// AppendResponseName appends the name the server uses for the item in a
// FETCH response (RFC 9051 §7.5.2): without .PEEK, and with only the
// origin octet of a partial, e.g. BODY[1.TEXT]<0>.
func (it FetchItem) AppendResponseName(b []byte) []byte {
	b = append(b, it.Name...)
	if it.Section != nil {
		b = it.Section.AppendTo(b)
	}
	if it.Partial != nil {
		b = append(b, '<')
		b = strconv.AppendUint(b, it.Partial.Offset, 10)
		b = append(b, '>')
	}
	return b
}

// AppendTo appends "[" section "]".
func (s Section) AppendTo(b []byte) []byte {
	b = append(b, '[')
	for i, n := range s.Part {
		if i > 0 {
			b = append(b, '.')
		}
		b = strconv.AppendUint(b, uint64(n), 10)
	}
	if s.Specifier != "" {
		if len(s.Part) > 0 {
			b = append(b, '.')
		}
		b = append(b, s.Specifier...)
	}
	if len(s.Fields) > 0 {
		b = append(b, " ("...)
		for i, f := range s.Fields {
			if i > 0 {
				b = append(b, ' ')
			}
			b = AppendAString(b, f)
		}
		b = append(b, ')')
	}
	return append(b, ']')
}

// Slice returns the octets of b a partial fetch selects (RFC 9051 §6.4.5):
// count octets from offset, fewer at the end, none past it.
func (p *Partial) Slice(b []byte) []byte {
	if p == nil {
		return b
	}
	if p.Offset >= uint64(len(b)) {
		return b[:0]
	}
	b = b[p.Offset:]
	if p.Count < uint64(len(b)) {
		b = b[:p.Count]
	}
	return b
}
