package selected

import (
	"bytes"
	"io"
	"mime"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/posthorn/posthorn/internal/message"
	"golang.org/x/text/encoding/htmlindex"
)

// Text keys of SEARCH (RFC 9051 §6.4.4): substring matches ignoring case,
// on header field values (raw and with RFC 2047 encoded words decoded, in
// any charset the WHATWG encoding index knows) and on the body: as stored,
// and for base64 or quoted-printable parts and parts in another charset
// than UTF-8 also decoded to UTF-8.

// needle is a search string.
type needle struct {
	lower []byte
	ascii bool
}

func newNeedle(s string) needle {
	l := strings.ToLower(s)
	ascii := true
	for i := 0; i < len(l); i++ {
		if l[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	return needle{lower: []byte(l), ascii: ascii}
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// in reports whether the needle occurs in h, ignoring case.
func (n needle) in(h []byte) bool {
	if len(n.lower) == 0 {
		return true
	}
	if !n.ascii {
		return bytes.Contains(bytes.ToLower(h), n.lower)
	}
	first := n.lower[0]
	upper := first
	if 'a' <= first && first <= 'z' {
		upper = first - 'a' + 'A'
	}
	rest := n.lower[1:]
	for len(h) >= len(n.lower) {
		i := bytes.IndexByte(h, first)
		if upper != first {
			if j := bytes.IndexByte(h, upper); j >= 0 && (i < 0 || j < i) {
				i = j
			}
		}
		if i < 0 || len(h)-i < len(n.lower) {
			return false
		}
		if equalFoldASCII(h[i+1:i+1+len(rest)], rest) {
			return true
		}
		h = h[i+1:]
	}
	return false
}

func equalFoldASCII(a, lower []byte) bool {
	for i, c := range lower {
		if lowerASCII(a[i]) != c {
			return false
		}
	}
	return true
}

func (n needle) inString(s string) bool { return n.in([]byte(s)) }

// msgText is the message a text key looks at, parsed as far as needed.
type msgText struct {
	raw      []byte
	hdrEnd   int // -1 until computed
	part     *message.Part
	decoded  [][]byte
	didParse bool
}

func (t *msgText) reset(raw []byte) {
	*t = msgText{raw: raw, hdrEnd: -1, decoded: t.decoded[:0]}
}

// header returns the header block of the message.
func (t *msgText) header() []byte {
	if t.hdrEnd < 0 {
		t.hdrEnd = len(t.raw)
		if len(t.raw) > 0 && (t.raw[0] == '\n' || bytes.HasPrefix(t.raw, []byte("\r\n"))) {
			t.hdrEnd = 0
		} else if i := bytes.Index(t.raw, []byte("\n\r\n")); i >= 0 {
			t.hdrEnd = i + 3
			if j := bytes.Index(t.raw[:i+1], []byte("\n\n")); j >= 0 {
				t.hdrEnd = j + 2
			}
		} else if i := bytes.Index(t.raw, []byte("\n\n")); i >= 0 {
			t.hdrEnd = i + 2
		}
	}
	return t.raw[:t.hdrEnd]
}

func (t *msgText) body() []byte {
	t.header()
	return t.raw[t.hdrEnd:]
}

// fieldValues returns the unfolded values of the header fields named.
func (t *msgText) fieldValues(name string) []string {
	lines := message.HeaderFields(t.header(), []string{name}, false)
	var out []string
	for _, line := range bytes.Split(lines, []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(out) > 0 {
				out[len(out)-1] += " " + string(bytes.TrimSpace(line))
			}
			continue
		}
		if c := bytes.IndexByte(line, ':'); c >= 0 {
			out = append(out, string(bytes.TrimSpace(line[c+1:])))
		}
	}
	return out
}

var wordDecoder = mime.WordDecoder{CharsetReader: func(charset string, input io.Reader) (io.Reader, error) {
	enc, err := htmlindex.Get(charset)
	if err != nil {
		return nil, err
	}
	return enc.NewDecoder().Reader(input), nil
}}

// toUTF8 converts text in charset to UTF-8; ok is false when nothing was
// converted (UTF-8, US-ASCII, an unknown charset).
func toUTF8(charset string, b []byte) ([]byte, bool) {
	switch strings.ToLower(charset) {
	case "", "utf-8", "utf8", "us-ascii", "ascii":
		return b, false
	}
	enc, err := htmlindex.Get(charset)
	if err != nil {
		return b, false
	}
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return b, false
	}
	return out, true
}

// valueMatches matches a header value as written and with encoded words
// decoded (RFC 2047).
func valueMatches(n needle, v string) bool {
	if n.inString(v) {
		return true
	}
	if strings.Contains(v, "=?") {
		if d, err := wordDecoder.DecodeHeader(v); err == nil && d != v {
			return n.inString(d)
		}
	}
	return false
}

// bodyMatches searches the body as stored, then the decoded contents of
// its parts that have a transfer encoding or another charset.
func (t *msgText) bodyMatches(n needle) bool {
	if n.in(t.body()) {
		return true
	}
	if !encodedHint.in(t.raw) && (n.ascii || !charsetHint.in(t.raw)) {
		return false
	}
	if !t.didParse {
		t.didParse = true
		if p, err := message.Parse(t.raw); err == nil {
			t.part = p
			t.collect(p, 0)
		}
	}
	for _, d := range t.decoded {
		if n.in(d) {
			return true
		}
	}
	return false
}

var (
	encodedHint = newNeedle("content-transfer-encoding")
	charsetHint = newNeedle("charset")
)

// collect decodes the leaf parts with a transfer encoding or a charset
// other than UTF-8.
func (t *msgText) collect(p *message.Part, depth int) {
	if depth > message.MaxDepth {
		return
	}
	for _, c := range p.Parts {
		t.collect(c, depth+1)
	}
	if p.Message != nil {
		t.collect(p.Message, depth+1)
	}
	if len(p.Parts) > 0 || p.Message != nil {
		return
	}
	d, err := p.Decode(t.raw)
	if err != nil {
		return
	}
	encoded := false
	switch strings.ToLower(p.Encoding) {
	case "base64", "quoted-printable":
		encoded = true
	}
	if strings.EqualFold(p.Type, "text") {
		var converted bool
		d, converted = toUTF8(param(p.Params, "charset"), d)
		encoded = encoded || converted
	}
	if encoded {
		t.decoded = append(t.decoded, d)
	}
}

func param(params []message.Param, name string) string {
	for _, p := range params {
		if strings.EqualFold(p.Name, name) {
			return p.Value
		}
	}
	return ""
}

// matches evaluates a text key.
func (t *msgText) matches(n *node) bool {
	switch n.key {
	case "BODY":
		return t.bodyMatches(n.text)
	case "TEXT":
		return n.text.in(t.header()) || t.anyFieldDecoded(n.text) || t.bodyMatches(n.text)
	case "HEADER":
		vals := t.fieldValues(n.field)
		if len(n.text.lower) == 0 {
			return len(vals) > 0
		}
		for _, v := range vals {
			if valueMatches(n.text, v) {
				return true
			}
		}
		return false
	case "FROM", "TO", "CC", "BCC", "SUBJECT":
		for _, v := range t.fieldValues(n.key) {
			if valueMatches(n.text, v) {
				return true
			}
		}
		return false
	case "SENTBEFORE", "SENTON", "SENTSINCE":
		vals := t.fieldValues("Date")
		if len(vals) == 0 {
			return false
		}
		d, err := mail.ParseDate(vals[0])
		if err != nil {
			return false
		}
		c := dateOf(d).cmp(n.day)
		switch n.key {
		case "SENTBEFORE":
			return c < 0
		case "SENTON":
			return c == 0
		}
		return c >= 0
	}
	return false
}

// anyFieldDecoded matches the header's encoded words decoded.
func (t *msgText) anyFieldDecoded(n needle) bool {
	h := t.header()
	if !bytes.Contains(h, []byte("=?")) {
		return false
	}
	d, err := wordDecoder.DecodeHeader(string(h))
	return err == nil && n.inString(d)
}
