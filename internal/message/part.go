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
	return p.message(0, len(raw), 0), nil
}

type parser struct {
	raw    []byte
	parts  int
	fields []field // scratch
}

// message parses raw[start:end] as a message: header, body, envelope.
func (p *parser) message(start, end, depth int) *Part {
	part, h := p.entity(start, end, depth, false)
	part.Envelope = envelopeOf(h)
	return part
}

// entity parses raw[start:end] as a MIME entity.
func (p *parser) entity(start, end, depth int, digest bool) (*Part, header) {
	p.parts++
	fields, bodyStart := scanHeader(p.raw, start, end, p.fields[:0])
	h := header{raw: p.raw, fields: fields}
	part := &Part{HeaderStart: start, HeaderEnd: bodyStart, BodyStart: bodyStart, BodyEnd: end}

	ct, hasCT := h.get("Content-Type")
	typ, sub, params, ok := parseMediaType(ct)
	switch {
	case ok:
		part.Type, part.Subtype, part.Params = typ, sub, params
	case digest && !hasCT:
		part.Type, part.Subtype = "message", "rfc822"
	default:
		part.Type, part.Subtype = "text", "plain"
	}
	isText := strings.EqualFold(part.Type, "text")
	if isText && paramValue(part.Params, "charset") == "" {
		part.Params = append([]Param{{Name: "charset", Value: "us-ascii"}}, part.Params...)
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
	p.fields = fields // keep the grown scratch slice

	body := p.raw[bodyStart:end]
	isMultipart := strings.EqualFold(part.Type, "multipart")
	isMessage := strings.EqualFold(part.Type, "message") &&
		(strings.EqualFold(part.Subtype, "rfc822") || strings.EqualFold(part.Subtype, "global"))
	if (isMultipart || isMessage) && (depth >= MaxDepth || p.parts >= MaxParts) {
		part.Type, part.Subtype, part.Params = "application", "octet-stream", nil
		return part, h
	}
	switch {
	case isMultipart:
		// The header of h is parsed; copy what the envelope might need
		// before the scratch slice is reused by the children.
		h.fields = append([]field(nil), fields...)
		p.multipart(part, depth, strings.EqualFold(part.Subtype, "digest"))
	case isMessage:
		h.fields = append([]field(nil), fields...)
		part.Lines = bytes.Count(body, []byte{'\n'})
		part.Message = p.message(bodyStart, end, depth+1)
	case isText:
		part.Lines = bytes.Count(body, []byte{'\n'})
	}
	return part, h
}

func paramValue(params []Param, name string) string {
	for _, p := range params {
		if strings.EqualFold(p.Name, name) {
			return p.Value
		}
	}
	return ""
}

// multipart splits the body of part at its boundary (RFC 2046 §5.1.1). The
// line break before a delimiter belongs to the delimiter. Without a
// boundary, or when no delimiter is found, the multipart gets one empty
// text/plain part, as Dovecot does.
func (p *parser) multipart(part *Part, depth int, digest bool) {
	boundary := paramValue(part.Params, "boundary")
	start, end := part.BodyStart, part.BodyEnd
	var starts, ends []int // content ranges of the parts
	if boundary != "" {
		delim := []byte("--" + boundary)
		pos := start
		open := -1 // start of the current part's content, -1 before the first delimiter
		for pos < end {
			i := bytes.Index(p.raw[pos:end], delim)
			if i < 0 {
				break
			}
			at := pos + i
			pos = at + len(delim)
			if at != start && p.raw[at-1] != '\n' {
				continue
			}
			after := at + len(delim)
			closing := after+1 < end && p.raw[after] == '-' && p.raw[after+1] == '-'
			if closing {
				after += 2
			}
			eol, ok := delimiterLineEnd(p.raw, after, end)
			if !ok {
				continue
			}
			if open >= 0 {
				starts = append(starts, open)
				ends = append(ends, lineBreakStart(p.raw, open, at))
			}
			if closing || len(starts)+p.parts >= MaxParts {
				open = -1
				break
			}
			open = eol
			pos = eol
		}
		if open >= 0 {
			starts = append(starts, open)
			ends = append(ends, end)
		}
	}
	if len(starts) == 0 {
		part.Parts = []*Part{{
			HeaderStart: end, HeaderEnd: end, BodyStart: end, BodyEnd: end,
			Type: "text", Subtype: "plain", Params: []Param{{Name: "charset", Value: "us-ascii"}},
			Encoding: "7bit",
		}}
		return
	}
	part.Parts = make([]*Part, len(starts))
	for i := range starts {
		child, _ := p.entity(starts[i], ends[i], depth+1, digest)
		part.Parts[i] = child
	}
}

// delimiterLineEnd checks that only transport padding (white space) follows
// a delimiter up to the end of its line, and returns the offset after the
// line break.
func delimiterLineEnd(raw []byte, pos, end int) (int, bool) {
	for pos < end {
		switch raw[pos] {
		case ' ', '\t', '\r':
			pos++
		case '\n':
			return pos + 1, true
		default:
			return 0, false
		}
	}
	return end, true
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
