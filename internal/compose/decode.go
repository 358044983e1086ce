package compose

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// DecodeCommon decodes the usual shape of a send request in one pass over
// b, without encoding/json's reflection, scanning and second unquoting
// (the HTTP API's largest cost per message after the store): one JSON
// object whose keys are exactly the lower-case field names, each at most
// once; strings, arrays of strings or addresses, objects of strings;
// strings with the common escapes and valid UTF-8. It reports false for
// anything else (null, numbers, other letter case, duplicate keys, lone
// surrogates, syntax errors, data after the object): decode b with
// encoding/json instead, which gives the error or the answer for those.
// When it reports true, m is what encoding/json's strict decoding (unknown
// fields refused, nothing after the value) gives (FuzzDecodeCommon checks
// against it).
func DecodeCommon(b []byte, m *Message) bool {
	d := decoder{b: b}
	var out Message
	if !d.message(&out) {
		return false
	}
	d.space()
	if d.i != len(d.b) {
		return false
	}
	*m = out
	return true
}

type decoder struct {
	b []byte
	i int
}

// The fields of Message, as bits for spotting a key given twice.
const (
	fieldFrom = 1 << iota
	fieldTo
	fieldCc
	fieldBcc
	fieldReplyTo
	fieldSubject
	fieldText
	fieldHTML
	fieldAttachments
	fieldHeaders
	fieldTags
	fieldMetadata
)

func (d *decoder) message(m *Message) bool {
	seen := 0
	return d.object(func(key []byte) bool {
		var bit int
		ok := false
		switch string(key) {
		case "from":
			bit = fieldFrom
			m.From, ok = d.address()
		case "to":
			bit = fieldTo
			m.To, ok = d.addresses()
		case "cc":
			bit = fieldCc
			m.Cc, ok = d.addresses()
		case "bcc":
			bit = fieldBcc
			m.Bcc, ok = d.addresses()
		case "reply_to":
			bit = fieldReplyTo
			m.ReplyTo, ok = d.addresses()
		case "subject":
			bit = fieldSubject
			m.Subject, ok = d.str()
		case "text":
			bit = fieldText
			m.Text, ok = d.str()
		case "html":
			bit = fieldHTML
			m.HTML, ok = d.str()
		case "attachments":
			bit = fieldAttachments
			m.Attachments, ok = d.attachments()
		case "headers":
			bit = fieldHeaders
			m.Headers, ok = d.strMap()
		case "tags":
			bit = fieldTags
			m.Tags, ok = d.strings()
		case "metadata":
			bit = fieldMetadata
			m.Metadata, ok = d.strMap()
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
}

// address is a string ("Name <a@b>", parsed as Address.UnmarshalJSON
// does) or an object with name and email.
func (d *decoder) address() (Address, bool) {
	d.space()
	if d.i < len(d.b) && d.b[d.i] == '"' {
		s, ok := d.str()
		return parseAddressString(s), ok
	}
	var a Address
	var seenName, seenEmail bool
	ok := d.object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "name":
			if seenName {
				return false
			}
			seenName = true
			a.Name, ok = d.str()
		case "email":
			if seenEmail {
				return false
			}
			seenEmail = true
			a.Email, ok = d.str()
		}
		return ok
	})
	return a, ok
}

func (d *decoder) addresses() ([]Address, bool) {
	list := []Address{}
	ok := d.array(func() bool {
		a, ok := d.address()
		list = append(list, a)
		return ok
	})
	return list, ok
}

func (d *decoder) strings() ([]string, bool) {
	list := []string{}
	ok := d.array(func() bool {
		s, ok := d.str()
		list = append(list, s)
		return ok
	})
	return list, ok
}

func (d *decoder) attachments() ([]Attachment, bool) {
	list := []Attachment{}
	ok := d.array(func() bool {
		var a Attachment
		seen := 0
		ok := d.object(func(key []byte) bool {
			var bit int
			var ok bool
			switch string(key) {
			case "filename":
				bit = 1
				a.Filename, ok = d.str()
			case "content_type":
				bit = 2
				a.ContentType, ok = d.str()
			case "content":
				bit = 4
				a.Content, ok = d.str()
			case "content_id":
				bit = 8
				a.ContentID, ok = d.str()
			case "disposition":
				bit = 16
				a.Disposition, ok = d.str()
			}
			if !ok || seen&bit != 0 {
				return false
			}
			seen |= bit
			return true
		})
		list = append(list, a)
		return ok
	})
	return list, ok
}

// strMap is an object of strings; a repeated key keeps its last value,
// as encoding/json does for maps.
func (d *decoder) strMap() (map[string]string, bool) {
	m := map[string]string{}
	ok := d.object(func(key []byte) bool {
		k, ok := unquote(key)
		if !ok {
			return false
		}
		m[k], ok = d.str()
		return ok
	})
	return m, ok
}

// object reads {"key": value, ...}, calling member for each key (still
// quoted, without the quotes) with the decoder at its value.
func (d *decoder) object(member func(key []byte) bool) bool {
	d.space()
	if !d.eat('{') {
		return false
	}
	d.space()
	if d.eat('}') {
		return true
	}
	for {
		d.space()
		key, ok := d.rawString()
		if !ok {
			return false
		}
		d.space()
		if !d.eat(':') || !member(key) {
			return false
		}
		d.space()
		if d.eat('}') {
			return true
		}
		if !d.eat(',') {
			return false
		}
	}
}

// array reads [value, ...], calling elem with the decoder at each value.
func (d *decoder) array(elem func() bool) bool {
	d.space()
	if !d.eat('[') {
		return false
	}
	d.space()
	if d.eat(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		d.space()
		if d.eat(']') {
			return true
		}
		if !d.eat(',') {
			return false
		}
	}
}

func (d *decoder) str() (string, bool) {
	d.space()
	raw, ok := d.rawString()
	if !ok {
		return "", false
	}
	return unquote(raw)
}

// rawString reads a JSON string and returns its content between the
// quotes, still escaped.
func (d *decoder) rawString() ([]byte, bool) {
	if !d.eat('"') {
		return nil, false
	}
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case !special[c]:
			d.i++
		case c == '"':
			d.i++
			return d.b[start : d.i-1], true
		case c == '\\':
			d.i += 2
		default: // a control character
			return nil, false
		}
	}
	return nil, false
}

// special are the bytes rawString stops at: the quote, the backslash and
// the control characters (not allowed unescaped in a JSON string).
var special = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// unquote undoes a string's escapes. Control characters were refused by
// rawString; invalid UTF-8 and surrogates (which encoding/json replaces
// by U+FFFD) are refused here.
func unquote(raw []byte) (string, bool) {
	if !utf8.Valid(raw) {
		return "", false
	}
	i := bytes.IndexByte(raw, '\\')
	if i < 0 {
		return string(raw), true
	}
	var out strings.Builder // its String does not copy
	out.Grow(len(raw))
	for i >= 0 {
		out.Write(raw[:i])
		raw = raw[i:]
		if len(raw) < 2 {
			return "", false
		}
		n := 2
		switch raw[1] {
		case '"', '\\', '/':
			out.WriteByte(raw[1])
		case 'b':
			out.WriteByte('\b')
		case 'f':
			out.WriteByte('\f')
		case 'n':
			out.WriteByte('\n')
		case 'r':
			out.WriteByte('\r')
		case 't':
			out.WriteByte('\t')
		case 'u':
			r, ok := hex4(raw[2:])
			if !ok || utf8.RuneLen(r) < 0 { // a surrogate: pairs are left to encoding/json
				return "", false
			}
			out.WriteRune(r)
			n = 6
		default:
			return "", false
		}
		raw = raw[n:]
		i = bytes.IndexByte(raw, '\\')
	}
	out.Write(raw)
	return out.String(), true
}

// hex4 reads the four hex digits of a \u escape.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	r := rune(0)
	for _, h := range b[:4] {
		switch {
		case '0' <= h && h <= '9':
			r = r<<4 | rune(h-'0')
		case 'a' <= h && h <= 'f':
			r = r<<4 | rune(h-'a'+10)
		case 'A' <= h && h <= 'F':
			r = r<<4 | rune(h-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

func (d *decoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) eat(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}
