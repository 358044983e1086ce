package message

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime/quotedprintable"
	"strings"

	"github.com/posthorn/posthorn/internal/imap"
)

// Find returns the part a section number designates (RFC 9051 §6.4.5),
// starting from the message p, or nil if there is none. An empty path is
// the message itself. Within a message/rfc822 part the numbers continue in
// the encapsulated message; a single-part message has one part, 1, its
// body. As in Dovecot, 1 below a non-multipart part of a multipart is that
// part again (BODY[1.1] of a text/plain part 1 is part 1), once.
func (p *Part) Find(path []uint32) *Part {
	cur := p
	stayed := false // the last number was 1 on a non-multipart part
	for i, n := range path {
		if n == 0 {
			return nil
		}
		if i > 0 && cur.Message != nil {
			cur, stayed = cur.Message, false
		}
		switch {
		case cur.IsMultipart():
			if int(n) > len(cur.Parts) {
				return nil
			}
			cur = cur.Parts[n-1]
		case n == 1 && !stayed:
			stayed = true
		default:
			return nil
		}
	}
	return cur
}

// Header returns the part's header block, blank line included:
// BODY[HEADER] of a message, BODY[n.MIME] of a part.
func (p *Part) Header(raw []byte) []byte { return slice(raw, p.HeaderStart, p.HeaderEnd) }

// Body returns the part's body: BODY[TEXT] of a message, BODY[n] of a part.
func (p *Part) Body(raw []byte) []byte { return slice(raw, p.BodyStart, p.BodyEnd) }

// slice guards against structures that do not belong to raw (a stale cache).
func slice(raw []byte, a, b int) []byte {
	if a < 0 || b > len(raw) || a > b {
		return nil
	}
	return raw[a:b]
}

// ErrUnknownEncoding is returned by Decode for a Content-Transfer-Encoding
// it does not know; IMAP answers NO [UNKNOWN-CTE] (RFC 3516 §4.3).
var ErrUnknownEncoding = errors.New("message: unknown content-transfer-encoding")

// Decode returns the part's body with its Content-Transfer-Encoding
// removed, for BINARY[...] (RFC 3516). Malformed base64 and
// quoted-printable are decoded as far as they go, leniently.
func (p *Part) Decode(raw []byte) ([]byte, error) {
	body := p.Body(raw)
	switch strings.ToLower(p.Encoding) {
	case "7bit", "8bit", "binary", "":
		return body, nil
	case "base64":
		return decodeBase64(body), nil
	case "quoted-printable":
		// On malformed input keep what decoded; the reader stops at the
		// first error.
		out, _ := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
		return out, nil
	}
	return nil, ErrUnknownEncoding
}

// decodeBase64 decodes base64 ignoring characters outside the alphabet
// (RFC 2045 §6.8) and stopping at padding.
func decodeBase64(body []byte) []byte {
	clean := make([]byte, 0, len(body))
scan:
	for _, c := range body {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '+', c == '/':
			clean = append(clean, c)
		case c == '=':
			break scan
		}
	}
	if len(clean)%4 == 1 {
		clean = clean[:len(clean)-1]
	}
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
	n, _ := base64.RawStdEncoding.Decode(out, clean)
	return out[:n]
}

// ErrNoSection is returned by Binary for a part the message does not have.
var ErrNoSection = errors.New("message: no such section")

// Section returns the octets of BODY[sec] (RFC 9051 §6.4.5) of the
// message p parsed from raw: the whole message, HEADER, TEXT,
// HEADER.FIELDS[.NOT] of the message or of an encapsulated message, a
// part's body, or its MIME header. ok is false when the message has no
// such section (a part number beyond the structure, or HEADER/TEXT of a
// part that is not message/rfc822); RFC 9051 leaves the answer to the
// server, which may send an empty string.
func (p *Part) Section(raw []byte, sec imap.Section) (b []byte, ok bool) {
	q := p
	if len(sec.Part) > 0 {
		if q = p.Find(sec.Part); q == nil {
			return nil, false
		}
	}
	switch sec.Specifier {
	case "":
		if len(sec.Part) == 0 {
			return raw, true
		}
		return q.Body(raw), true
	case "MIME":
		return q.Header(raw), true
	}
	// HEADER, HEADER.FIELDS[.NOT] and TEXT are of a message: the root, or
	// the one a message/rfc822 part encapsulates.
	if len(sec.Part) > 0 {
		if q.Message == nil {
			return nil, false
		}
		q = q.Message
	}
	switch sec.Specifier {
	case "HEADER":
		return q.Header(raw), true
	case "TEXT":
		return q.Body(raw), true
	case "HEADER.FIELDS":
		return HeaderFields(q.Header(raw), sec.Fields, false), true
	case "HEADER.FIELDS.NOT":
		return HeaderFields(q.Header(raw), sec.Fields, true), true
	}
	return nil, false
}

// Binary returns BINARY[part] (RFC 3516 §4.2): the part's body with its
// Content-Transfer-Encoding removed; with no part number, the whole
// message as stored. It fails with ErrNoSection or ErrUnknownEncoding
// (answered NO [UNKNOWN-CTE]).
func (p *Part) Binary(raw []byte, part []uint32) ([]byte, error) {
	if len(part) == 0 {
		return raw, nil
	}
	q := p.Find(part)
	if q == nil {
		return nil, ErrNoSection
	}
	return q.Decode(raw)
}
