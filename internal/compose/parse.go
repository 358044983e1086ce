package compose

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // charsets beyond UTF-8 and ASCII
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// Inbound is a received message made ready for JSON: the payload of an
// inbound route (without the envelope, which the route adds).
type Inbound struct {
	// Headers are the top-level header fields in message order, values
	// unfolded and RFC 2047-decoded.
	Headers    []HeaderField `json:"headers"`
	From       []Address     `json:"from,omitempty"`
	To         []Address     `json:"to,omitempty"`
	Cc         []Address     `json:"cc,omitempty"`
	ReplyTo    []Address     `json:"reply_to,omitempty"`
	Subject    string        `json:"subject"`
	Date       string        `json:"date,omitempty"` // RFC 3339; empty when missing or unparseable
	MessageID  string        `json:"message_id,omitempty"`
	InReplyTo  []string      `json:"in_reply_to,omitempty"`
	References []string      `json:"references,omitempty"`
	// Text and HTML are the first text/plain and text/html parts that are
	// not attachments, converted to UTF-8.
	Text string `json:"text,omitempty"`
	HTML string `json:"html,omitempty"`
	// Attachments are parts with a filename or an attachment disposition,
	// and any other non-text leaf; Inline are parts with a Content-ID or an
	// inline disposition (images referenced from the HTML).
	Attachments []InboundPart `json:"attachments,omitempty"`
	Inline      []InboundPart `json:"inline,omitempty"`
	// Problems lists what was wrong with the MIME structure (limits hit,
	// undecodable parts); the rest of the message is still given.
	Problems []string `json:"problems,omitempty"`
}

// HeaderField is one header field.
type HeaderField struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// InboundPart is an attachment or inline part of a received message.
type InboundPart struct {
	Filename    string `json:"filename,omitempty"`
	ContentType string `json:"content_type"`
	ContentID   string `json:"content_id,omitempty"`
	Disposition string `json:"disposition,omitempty"`
	Size        int    `json:"size"`    // decoded bytes
	Content     string `json:"content"` // standard base64 of the decoded bytes
}

// Limits bound what Parse does with one message. Zero fields take the
// defaults.
type Limits struct {
	MaxParts   int // leaf and multipart parts together; default 256
	MaxDepth   int // multipart nesting; default 16
	MaxHeaders int // top-level header fields kept; default 1000
	MaxDecoded int // decoded bytes over all parts; default 4 × len(raw)
}

func (l Limits) withDefaults(raw int) Limits {
	if l.MaxParts <= 0 {
		l.MaxParts = 256
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = 16
	}
	if l.MaxHeaders <= 0 {
		l.MaxHeaders = 1000
	}
	if l.MaxDecoded <= 0 {
		l.MaxDecoded = 4*raw + 4096
	}
	return l
}

// ErrNotMessage is returned when raw does not start with a header field.
var ErrNotMessage = errors.New("compose: not an RFC 5322 message")

// Parse reads an RFC 5322 message into an Inbound. It never panics on
// broken input; limits stop the walk and are noted in Problems. A header
// section that breaks off (a line without a colon, no blank line before
// the end) keeps the fields read so far, and the rest is read as the body.
// Only input without a single readable header field is an error.
func Parse(raw []byte, limits Limits) (*Inbound, error) {
	limits = limits.withDefaults(len(raw))
	in := &Inbound{}
	// textproto.ReadHeader rather than message.Read, which gives up on the
	// whole message at the first malformed header line.
	br := bufio.NewReader(bytes.NewReader(raw))
	th, err := textproto.ReadHeader(br)
	if err != nil && th.Len() == 0 {
		return nil, fmt.Errorf("%w: %v", ErrNotMessage, err)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		in.problem("header: %v", err)
	}
	h := message.Header{Header: th}
	e, err := message.New(h, br)
	if err != nil {
		in.problem("top level: %v", err)
	}
	in.readHeader(mail.Header{Header: h}, limits.MaxHeaders)
	p := parser{in: in, limits: limits}
	p.walk(e, 0)
	return in, nil
}

func (in *Inbound) problem(format string, args ...any) {
	if len(in.Problems) < 20 {
		in.Problems = append(in.Problems, clean(fmt.Sprintf(format, args...)))
	}
}

// clean makes s valid UTF-8 for JSON.
func clean(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

func (in *Inbound) readHeader(h mail.Header, max int) {
	fields := h.Fields()
	for fields.Next() {
		if len(in.Headers) == max {
			in.problem("more than %d header fields; the rest left out", max)
			break
		}
		v, err := fields.Text()
		if err != nil {
			v = fields.Value()
		}
		in.Headers = append(in.Headers, HeaderField{Name: clean(fields.Key()), Value: clean(v)})
	}
	in.From = addresses(in, h, "From")
	in.To = addresses(in, h, "To")
	in.Cc = addresses(in, h, "Cc")
	in.ReplyTo = addresses(in, h, "Reply-To")
	in.Subject, _ = h.Subject()
	in.Subject = clean(in.Subject)
	if d, err := h.Date(); err == nil && !d.IsZero() {
		in.Date = d.Format(time.RFC3339)
	}
	if id, err := h.MessageID(); err == nil {
		in.MessageID = clean(id)
	}
	in.InReplyTo = msgIDs(h, "In-Reply-To")
	in.References = msgIDs(h, "References")
}

func addresses(in *Inbound, h mail.Header, key string) []Address {
	list, err := h.AddressList(key)
	if err != nil {
		in.problem("%s: %v", key, err)
	}
	var out []Address
	for _, a := range list {
		out = append(out, Address{Name: clean(a.Name), Email: clean(a.Address)})
	}
	return out
}

func msgIDs(h mail.Header, key string) []string {
	ids, _ := h.MsgIDList(key) // what parsed before an error
	for i := range ids {
		ids[i] = clean(ids[i])
	}
	return ids
}

type parser struct {
	in      *Inbound
	limits  Limits
	parts   int
	decoded int
}

// walk visits e and its children, depth-first, within the limits.
func (p *parser) walk(e *message.Entity, depth int) {
	p.parts++
	if mr := e.MultipartReader(); mr != nil {
		if depth >= p.limits.MaxDepth {
			p.in.problem("multipart nested deeper than %d; left out", p.limits.MaxDepth)
			return
		}
		for {
			if p.parts >= p.limits.MaxParts {
				p.in.problem("more than %d parts; the rest left out", p.limits.MaxParts)
				return
			}
			child, err := mr.NextPart()
			if err == io.EOF {
				return
			}
			if child == nil {
				p.in.problem("multipart: %v", err)
				return
			}
			if err != nil {
				p.in.problem("part %d: %v", p.parts, err)
			}
			p.walk(child, depth+1)
		}
	}
	p.leaf(e)
}

// leaf files one non-multipart part as text, html, inline or attachment.
func (p *parser) leaf(e *message.Entity) {
	room := p.limits.MaxDecoded - p.decoded
	data, err := io.ReadAll(io.LimitReader(e.Body, int64(room)+1))
	if err != nil {
		p.in.problem("part %d: %v", p.parts, err)
	}
	if len(data) > room {
		p.in.problem("decoded parts exceed %d bytes; the rest left out", p.limits.MaxDecoded)
		data = data[:room]
	}
	p.decoded += len(data)

	ct, params, _ := e.Header.ContentType()
	ct = strings.ToLower(ct)
	disp, dparams, _ := e.Header.ContentDisposition()
	disp = strings.ToLower(disp)
	filename := dparams["filename"]
	if filename == "" {
		filename = params["name"]
	}
	cid := strings.TrimSpace(e.Header.Get("Content-Id"))
	cid = strings.TrimSuffix(strings.TrimPrefix(cid, "<"), ">")

	body := disp != "attachment" && filename == ""
	switch {
	case body && ct == "text/plain" && p.in.Text == "" && cid == "":
		p.in.Text = clean(string(data))
		return
	case body && ct == "text/html" && p.in.HTML == "" && cid == "":
		p.in.HTML = clean(string(data))
		return
	}
	part := InboundPart{
		Filename:    clean(filename),
		ContentType: clean(mime.FormatMediaType(ct, nil)),
		ContentID:   clean(cid),
		Disposition: disp,
		Size:        len(data),
		Content:     base64.StdEncoding.EncodeToString(data),
	}
	if part.ContentType == "" {
		part.ContentType = "application/octet-stream"
	}
	if disp == "inline" || (disp == "" && cid != "") {
		p.in.Inline = append(p.in.Inline, part)
	} else {
		p.in.Attachments = append(p.in.Attachments, part)
	}
}
