package message

import (
	"bytes"
	"errors"
	"strings"
)

// Limits that keep hostile messages cheap.
const (
	// MaxDepth is how deep multiparts and message/rfc822 parts nest before
	// deeper ones are treated as opaque application/octet-stream leaves
	// (Dovecot's default limit is 100 too).
	MaxDepth = 100
	// MaxParts caps the parts of one message; a multipart beyond it keeps
	// the remaining octets in its last part.
	MaxParts = 10000
	// MaxSize is the largest message Parse accepts.
	MaxSize = 1<<31 - 1
)

// Part is one MIME entity: the message itself, a part of a multipart, or a
// message encapsulated in a message/rfc822 part. Offsets index the raw
// message given to Parse.
type Part struct {
	// HeaderStart:HeaderEnd are the header fields and the blank line ending
	// them: BODY[HEADER] for a message, BODY[n.MIME] for a part.
	HeaderStart int
	HeaderEnd   int
	// BodyStart:BodyEnd is the body: BODY[TEXT] for a message, BODY[n] for
	// a part (for message/rfc822 parts, the whole encapsulated message).
	BodyStart int
	BodyEnd   int

	Type    string // as written, e.g. "text" or "Text"
	Subtype string
	Params  []Param

	ID          string
	Description string
	Encoding    string // Content-Transfer-Encoding as written; "7bit" by default
	MD5         string

	Disposition       string
	DispositionParams []Param
	Language          []string
	Location          string

	// Lines is the number of lines of the body (the count of LF octets, as
	// Dovecot counts) for text/* and message/rfc822 parts.
	Lines int

	// Envelope is set on messages: the root and Message of message/rfc822
	// parts.
	Envelope *Envelope
	// Parts are the parts of a multipart (at least one).
	Parts []*Part
	// Message is the encapsulated message of a message/rfc822 part.
	Message *Part
}

// Size returns the body's size in octets (the body-fld-octets of
// BODYSTRUCTURE).
func (p *Part) Size() int { return p.BodyEnd - p.BodyStart }

// IsMultipart reports whether the part has subparts.
func (p *Part) IsMultipart() bool { return strings.EqualFold(p.Type, "multipart") && len(p.Parts) > 0 }

// IsMessage reports whether the part encapsulates a message (message/rfc822,
// or message/global, RFC 6532 §3.7).
func (p *Part) IsMessage() bool { return p.Message != nil }

// ErrTooLarge is returned by Parse for messages over MaxSize.
var ErrTooLarge = errors.New("message: too large")

// Parse computes the structure of a raw message. Line breaks may be CRLF
// or bare LF. It fails only for messages over MaxSize; malformed MIME
// degrades (see the package comment).
func Parse(raw []byte) (*Part, error) {
	if len(raw) > MaxSize {
		return nil, ErrTooLarge
	}
	p := &parser{raw: raw}
	part, _ := p.message(0, nil, 0)
	return part, nil
}

type parser struct {
	raw   []byte
	parts int
}

// delim is a boundary delimiter line that ends an entity, or the end of
// the message (idx -1).
type delim struct {
	idx     int  // index into the boundary stack
	closing bool // "--boundary--"
	line    int  // offset of the line
	eol     int  // offset after the line
}

// match reports whether the line at offset at is a delimiter of one of the
// boundaries on stack (outermost first), trying the innermost first.
// RFC 2046 §5.1.1: "it is sufficient that the boundary appear in its
// entirety following the CRLF"; the rest of the line is ignored.
func (p *parser) match(at int, stack [][]byte) (delim, bool) {
	line := p.raw[at:]
	if len(line) < 2 || line[0] != '-' || line[1] != '-' {
		return delim{}, false
	}
	line = line[2:]
	for j := len(stack) - 1; j >= 0; j-- {
		if !bytes.HasPrefix(line, stack[j]) {
			continue
		}
		after := at + 2 + len(stack[j])
		closing := bytes.HasPrefix(p.raw[after:], []byte("--"))
		return delim{idx: j, closing: closing, line: at, eol: lineEnd(p.raw, after, len(p.raw))}, true
	}
	return delim{}, false
}

// next finds the first delimiter line at or after the line start pos.
func (p *parser) next(pos int, stack [][]byte) delim {
	if len(stack) > 0 {
		for pos < len(p.raw) {
			i := bytes.Index(p.raw[pos:], []byte("--"))
			if i < 0 {
				break
			}
			at := pos + i
			if at == 0 || p.raw[at-1] == '\n' {
				if d, ok := p.match(at, stack); ok {
					return d
				}
			}
			pos = at + 2
		}
	}
	return delim{idx: -1, line: len(p.raw), eol: len(p.raw)}
}

// end returns where content ending at d stops: before the line break that
// precedes the delimiter line (it belongs to the delimiter), not below lo.
func (p *parser) end(d delim, lo int) int {
	if d.idx < 0 {
		return d.line
	}
	return lineBreakStart(p.raw, lo, d.line)
}

// message parses a message starting at start: an entity with an envelope.
func (p *parser) message(start int, stack [][]byte, depth int) (*Part, delim) {
	part, h, d := p.entity(start, stack, depth, false)
	part.Envelope = envelopeOf(h)
	return part, d
}

// entity parses the MIME entity starting at start, which ends at the next
// delimiter line of a boundary on stack (or the end of the message). It
// returns the part, its header, and that delimiter.
func (p *parser) entity(start int, stack [][]byte, depth int, digest bool) (*Part, header, delim) {
	p.parts++
	fields, bodyStart, stop := scanHeader(p.raw, start, len(p.raw), nil, func(pos int) bool {
		_, ok := p.match(pos, stack)
		return ok
	})
	h := header{raw: p.raw, fields: fields}
	part := &Part{HeaderStart: start, HeaderEnd: bodyStart, BodyStart: bodyStart}
	p.describe(part, h, digest)
	if !stop && bodyStart < len(p.raw) && p.raw[bodyStart] == '-' && len(stack) > 0 {
		// A blank line right before a delimiter of an enclosing boundary
		// is that delimiter's line break (RFC 2046 §5.1.1): the header had
		// no blank line. The part's own boundary is tried first, as it
		// would be in the body.
		inner := stack
		if b := paramValue(part.Params, "boundary"); b != "" && strings.EqualFold(part.Type, "multipart") {
			inner = append(stack[:len(stack):len(stack)], []byte(b))
		}
		if d, ok := p.match(bodyStart, inner); ok && d.idx < len(stack) {
			stop = true
		}
	}

	if stop {
		// A delimiter inside the header: no body.
		d, _ := p.match(bodyStart, stack)
		part.HeaderEnd = p.end(d, start)
		part.BodyStart, part.BodyEnd = part.HeaderEnd, part.HeaderEnd
		if strings.EqualFold(part.Type, "multipart") {
			part.Parts = []*Part{emptyPart(part.BodyEnd)}
		}
		if p.isMessage(part) {
			part.Message = &Part{HeaderStart: part.BodyEnd, HeaderEnd: part.BodyEnd, BodyStart: part.BodyEnd, BodyEnd: part.BodyEnd,
				Type: "text", Subtype: "plain", Params: []Param{{Name: "charset", Value: "us-ascii"}}, Encoding: "7bit", Envelope: &Envelope{}}
		}
		return part, h, d
	}

	isMultipart := strings.EqualFold(part.Type, "multipart")
	isMessage := p.isMessage(part)
	if (isMultipart || isMessage) && (depth >= MaxDepth || p.parts >= MaxParts) {
		part.Type, part.Subtype, part.Params = "application", "octet-stream", nil
		isMultipart, isMessage = false, false
	}
	var d delim
	switch {
	case isMultipart:
		d = p.multipart(part, stack, depth)
	case isMessage:
		part.Message, d = p.message(bodyStart, stack, depth+1)
		part.BodyEnd = max(p.end(d, bodyStart), part.Message.BodyEnd)
		part.Lines = bytes.Count(p.raw[bodyStart:part.BodyEnd], []byte{'\n'})
	default:
		d = p.next(bodyStart, stack)
		part.BodyEnd = p.end(d, bodyStart)
		if strings.EqualFold(part.Type, "text") {
			part.Lines = bytes.Count(p.raw[bodyStart:part.BodyEnd], []byte{'\n'})
		}
	}
	return part, h, d
}

func (p *parser) isMessage(part *Part) bool {
	return strings.EqualFold(part.Type, "message") &&
		(strings.EqualFold(part.Subtype, "rfc822") || strings.EqualFold(part.Subtype, "global"))
}

// describe fills in the part's content fields from its header.
func (p *parser) describe(part *Part, h header, digest bool) {
	ct, hasCT := h.get("Content-Type")
	typ, sub, params, ok := parseMediaType(ct)
	switch {
	case ok:
		part.Type, part.Subtype, part.Params = typ, sub, params
	case digest && !hasCT:
		// RFC 2046 §5.1.5: in a digest the default is message/rfc822.
		part.Type, part.Subtype = "message", "rfc822"
	default:
		// RFC 2045 §5.2: absent or invalid means text/plain.
		part.Type, part.Subtype = "text", "plain"
	}
	isText := strings.EqualFold(part.Type, "text")
	if isText && paramValue(part.Params, "charset") == "" {
		// RFC 2046 §4.1.2 default charset, added last as Dovecot does.
		part.Params = append(part.Params, Param{Name: "charset", Value: "us-ascii"})
	}
	if isText && strings.EqualFold(part.Subtype, "plain") && len(part.Params) == 1 &&
		strings.EqualFold(part.Params[0].Name, "charset") && strings.EqualFold(part.Params[0].Value, "us-ascii") {
		// The default type (RFC 2045 §5.2), written the way Dovecot does.
		part.Type, part.Subtype, part.Params = "text", "plain", []Param{{Name: "charset", Value: "us-ascii"}}
	}
	part.ID, _ = h.get("Content-ID")
	part.Description, _ = h.get("Content-Description")
	part.MD5, _ = h.get("Content-MD5")
	part.Location, _ = h.get("Content-Location")
	if v, ok := h.get("Content-Transfer-Encoding"); ok {
		part.Encoding = (&lexer{s: v}).token()
	}
	if part.Encoding == "" {
		part.Encoding = "7bit"
	}
	if v, ok := h.get("Content-Disposition"); ok {
		part.Disposition, part.DispositionParams = parseDisposition(v)
	}
	if v, ok := h.get("Content-Language"); ok {
		part.Language = parseLanguage(v)
	}
}

func paramValue(params []Param, name string) string {
	for _, p := range params {
		if strings.EqualFold(p.Name, name) {
			return p.Value
		}
	}
	return ""
}

// multipart parses the body of a multipart part (RFC 2046 §5.1.1): the
// preamble, the parts between delimiters of its boundary, and the epilogue
// after the close delimiter, up to a delimiter of an enclosing boundary.
// Without a boundary, or when no part is found, the multipart gets one
// empty text/plain part, as Dovecot does. It returns the delimiter that
// ends the multipart.
func (p *parser) multipart(part *Part, stack [][]byte, depth int) delim {
	boundary := paramValue(part.Params, "boundary")
	if boundary == "" {
		d := p.next(part.BodyStart, stack)
		part.BodyEnd = p.end(d, part.BodyStart)
		part.Parts = []*Part{emptyPart(part.BodyEnd)}
		return d
	}
	inner := append(stack[:len(stack):len(stack)], []byte(boundary))
	own := len(inner) - 1
	digest := strings.EqualFold(part.Subtype, "digest")
	d := p.next(part.BodyStart, inner) // the end of the preamble
	for d.idx == own && !d.closing && d.eol < len(p.raw) {
		if p.parts >= MaxParts {
			// Too many parts: the rest up to the end of the multipart is
			// not split further.
			d = p.next(d.eol, stack)
			break
		}
		var child *Part
		child, _, d = p.entity(d.eol, inner, depth+1, digest)
		part.Parts = append(part.Parts, child)
	}
	closeEnd := part.BodyStart
	if d.idx == own {
		// The close delimiter (or an open one at the very end): the
		// epilogue runs to the next enclosing delimiter.
		if !d.closing && d.eol >= len(p.raw) && d.line < len(p.raw) {
			part.Parts = append(part.Parts, emptyPart(len(p.raw)))
		}
		closeEnd = d.eol
		d = p.next(d.eol, stack)
	}
	// The close delimiter line stays whole, its line break included, even
	// when an enclosing delimiter follows at once (as in Dovecot).
	part.BodyEnd = max(p.end(d, part.BodyStart), closeEnd)
	if n := len(part.Parts); n == 0 {
		part.Parts = []*Part{emptyPart(part.BodyEnd)}
	} else {
		// An empty last part right at the delimiter line starts after the
		// line break the multipart's body gives to that delimiter.
		part.BodyEnd = max(part.BodyEnd, part.Parts[n-1].BodyEnd)
	}
	return d
}

// emptyPart is the empty text/plain part at offset at.
func emptyPart(at int) *Part {
	return &Part{HeaderStart: at, HeaderEnd: at, BodyStart: at, BodyEnd: at,
		Type: "text", Subtype: "plain", Params: []Param{{Name: "charset", Value: "us-ascii"}}, Encoding: "7bit"}
}

// lineBreakStart returns the offset of the CRLF or LF just before at (where
// a delimiter starts), not going below lo.
func lineBreakStart(raw []byte, lo, at int) int {
	if at > lo && raw[at-1] == '\n' {
		at--
		if at > lo && raw[at-1] == '\r' {
			at--
		}
	}
	return at
}
