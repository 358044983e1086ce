package compose

import (
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"io"
	"mime"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
	"github.com/posthorn/posthorn/internal/smtp"
	"golang.org/x/net/idna"
)

// Options are what Build needs beyond the Message.
type Options struct {
	// Date is the Date field; zero means now.
	Date time.Time
	// MessageID is the Message-ID without angle brackets; empty means
	// NewMessageID on the From address's domain.
	MessageID string

	// random replaces crypto/rand for boundaries in golden-file tests.
	random io.Reader
}

// NewMessageID returns a fresh, globally unique Message-ID (without angle
// brackets) on domain: 26 characters of crypto/rand base32 @ domain.
func NewMessageID(domain string) string {
	var b [16]byte
	rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])) + "@" + domain
}

// Build validates m and returns it as an RFC 5322 message with MIME
// (RFC 2045-2049): CRLF line endings, no line over 998 octets, Date and
// Message-ID set, Bcc left out of the header. The shape follows the
// content: one text part; text + html → multipart/alternative; inline parts
// (with a content_id) → multipart/related around the html; attachments →
// multipart/mixed around the rest.
func Build(m *Message, opts Options) ([]byte, error) {
	return AppendBuild(nil, m, opts)
}

// AppendBuild is Build appending the message to dst. A caller that leaves
// room at the start of dst can later put trace fields in front of the
// message without copying it (submission.Outgoing.WithTrace).
func AppendBuild(dst []byte, m *Message, opts Options) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	random := opts.random
	if random == nil {
		random = rand.Reader
	}
	root, err := m.tree(random)
	if err != nil {
		return nil, err
	}
	date := opts.Date
	if date.IsZero() {
		date = time.Now()
	}
	msgID := opts.MessageID
	if msgID == "" {
		from, _ := smtp.ParseAddress(m.From.Email) // checked by Validate
		domain := from.Domain
		if ascii, err := idna.Lookup.ToASCII(domain); err == nil {
			domain = ascii // a Message-ID stays ASCII (RFC 5322 msg-id)
		}
		msgID = NewMessageID(domain)
	}

	// go-message writes header fields last-added first: fields are added
	// here in reverse of the order they appear in.
	// The root part's Content-* fields come last.
	h := mail.Header{Header: root.header.Copy()}
	h.Set("MIME-Version", "1.0")
	for _, k := range slices.Backward(sortedKeys(m.Headers)) {
		h.AddRaw(foldField(k, encodeText(m.Headers[k])))
	}
	h.SetMessageID(msgID)
	if m.Subject != "" {
		h.AddRaw(foldField("Subject", encodeText(m.Subject)))
	}
	setAddresses(&h, "Cc", m.Cc)
	setAddresses(&h, "To", m.To)
	setAddresses(&h, "Reply-To", m.ReplyTo)
	setAddresses(&h, "From", []Address{m.From})
	h.SetDate(date)

	buf := bytes.NewBuffer(slices.Grow(dst, m.sizeHint()))
	if root.parts == nil && root.header.Get("Content-Transfer-Encoding") == "7bit" {
		// One 7bit text part (most sends): what go-message's writer would
		// do, without copying the body through its line wrapper, which has
		// nothing to wrap (textEncoding chose 7bit for lines within 998
		// octets). TestBuildGolden holds it to the bytes go-message wrote
		// (text_only_ascii.eml, utf8_addresses.eml).
		if err := textproto.WriteHeader(buf, h.Header.Header); err != nil {
			return nil, err
		}
		buf.Write(root.body)
	} else {
		w, err := message.CreateWriter(buf, h.Header)
		if err != nil {
			return nil, err
		}
		if err := root.writeBody(w); err != nil {
			return nil, err
		}
	}
	// A base64 body ends without a line break; the message should not.
	if !bytes.HasSuffix(buf.Bytes()[len(dst):], []byte("\r\n")) {
		buf.WriteString("\r\n")
	}
	return buf.Bytes(), nil
}

// SizeHint is about the size of the message Build makes from m, for a
// caller of AppendBuild that allocates the buffer.
func (m *Message) SizeHint() int { return m.sizeHint() }

// sizeHint is about the size of the message Build makes, so its buffer
// is allocated once (measured: the growing buffer was an eighth of the
// HTTP API's allocations per 2 KiB send): the bodies as they are (most
// text goes out 7bit or 8bit), attachments already in base64 plus their
// line breaks, and room for the header fields and part headers.
func (m *Message) sizeHint() int {
	n := len(m.Text) + len(m.HTML) + 1024
	for _, a := range m.Attachments {
		n += len(a.Content) + len(a.Content)/38 + 256
	}
	return n
}

// encodeText is an unstructured header value, RFC 2047 encoded when not
// ASCII, folded by go-message when long.
func encodeText(v string) string {
	return mime.QEncoding.Encode("utf-8", v)
}

// foldField formats an unstructured field, folding at spaces so that lines
// stay within 78 octets where words allow (RFC 5322 §2.2.3). Hand-written
// because go-message's folding gives up on a first RFC 2047 word longer
// than the room after the field name and writes one long line instead.
// Validate's limits keep every word, and so every line, under 998 octets.
func foldField(name, value string) []byte {
	b := []byte(name + ":")
	line := len(b)
	for _, w := range strings.Split(value, " ") {
		if line+1+len(w) > 78 && line > len(name)+1 {
			b = append(b, "\r\n"...)
			line = 0
		}
		b = append(b, ' ')
		b = append(b, w...)
		line += 1 + len(w)
	}
	return append(b, "\r\n"...)
}

func setAddresses(h *mail.Header, key string, list []Address) {
	if len(list) == 0 {
		return
	}
	addrs := make([]*mail.Address, len(list))
	for i, a := range list {
		addrs[i] = &mail.Address{Name: a.Name, Address: a.Email}
	}
	h.SetAddressList(key, addrs)
}

// part is one node of the MIME tree before it is written.
type part struct {
	header message.Header
	body   []byte  // leaves: the content, not yet transfer-encoded
	parts  []*part // multiparts: the children
}

// tree chooses the MIME shape of m.
func (m *Message) tree(random io.Reader) (*part, error) {
	var inline, attached []*part
	for i := range m.Attachments {
		a := &m.Attachments[i]
		p, err := a.part()
		if err != nil {
			return nil, err
		}
		// Inline parts only make sense around an HTML body; without one
		// they travel as attachments (with their inline disposition).
		if a.ContentID != "" && a.Disposition != "attachment" && m.HTML != "" {
			inline = append(inline, p)
		} else {
			attached = append(attached, p)
		}
	}
	var body *part
	var html *part
	if m.HTML != "" {
		html = textPart("text/html", m.HTML)
		if len(inline) > 0 {
			html = multipart(random, "related", map[string]string{"type": "text/html"}, append([]*part{html}, inline...))
		}
	}
	switch {
	case m.Text != "" && html != nil:
		body = multipart(random, "alternative", nil, []*part{textPart("text/plain", m.Text), html})
	case html != nil:
		body = html
	default:
		body = textPart("text/plain", m.Text)
	}
	if len(attached) > 0 {
		body = multipart(random, "mixed", nil, append([]*part{body}, attached...))
	}
	return body, nil
}

func multipart(random io.Reader, subtype string, params map[string]string, parts []*part) *part {
	if params == nil {
		params = map[string]string{}
	}
	// The boundary is chosen here so that go-message keeps the field order
	// (it re-adds Content-Type on top when it has to pick one).
	var b [24]byte
	io.ReadFull(random, b[:])
	params["boundary"] = fmt.Sprintf("%x", b)
	p := &part{parts: parts}
	setFields(&p.header, "Content-Type", mime.FormatMediaType("multipart/"+subtype, params))
	return p
}

// setFields sets header fields in the order given (go-message writes the
// last added first).
func setFields(h *message.Header, kv ...string) {
	for i := len(kv) - 2; i >= 0; i -= 2 {
		h.Add(kv[i], kv[i+1])
	}
}

// textPart is a UTF-8 text body with its line endings made CRLF (the
// canonical form of text, RFC 2046 §4.1.1), ending in a line break so that
// the message ends in CRLF whatever its shape.
func textPart(mediaType, text string) *part {
	body := canonicalLines(text)
	if !bytes.HasSuffix(body, []byte("\r\n")) {
		body = append(body, '\r', '\n')
	}
	p := &part{body: body}
	setFields(&p.header,
		"Content-Type", mime.FormatMediaType(mediaType, map[string]string{"charset": "utf-8"}),
		"Content-Transfer-Encoding", textEncoding(body))
	return p
}

func (a *Attachment) part() (*part, error) {
	data, err := a.Data()
	if err != nil {
		return nil, err
	}
	p := &part{body: data}
	ct := a.ContentType
	if ct == "" {
		ct = mime.TypeByExtension(path.Ext(a.Filename))
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return nil, err
	}
	if a.Filename != "" {
		params["name"] = a.Filename
	}
	disp := a.Disposition
	if disp == "" {
		disp = "attachment"
		if a.ContentID != "" {
			disp = "inline"
		}
	}
	dparams := map[string]string{}
	if a.Filename != "" {
		dparams["filename"] = a.Filename
	}
	// Content-Type and Content-Disposition are formatted with
	// mime.FormatMediaType directly, not go-message's SetContentType: that
	// one turns non-ASCII parameters into RFC 2047 words inside quotes,
	// which RFC 2047 §5 forbids; FormatMediaType uses RFC 2231.
	fields := []string{
		"Content-Type", mime.FormatMediaType(mediaType, params),
		"Content-Disposition", mime.FormatMediaType(disp, dparams),
		// Always base64: a parser may change the line endings of a 7bit
		// part (Python's email does), and attachments must arrive byte
		// for byte.
		"Content-Transfer-Encoding", "base64",
	}
	if a.ContentID != "" {
		fields = append(fields, "Content-ID", "<"+a.ContentID+">")
	}
	setFields(&p.header, fields...)
	return p, nil
}

// writeBody writes p's body (leaf content or child parts) to w and closes it.
func (p *part) writeBody(w *message.Writer) error {
	if p.parts == nil {
		if _, err := w.Write(p.body); err != nil {
			return err
		}
		return w.Close()
	}
	for _, c := range p.parts {
		cw, err := w.CreatePart(c.header)
		if err != nil {
			return err
		}
		if err := c.writeBody(cw); err != nil {
			return err
		}
	}
	return w.Close()
}

// canonicalLines turns LF and lone CR line breaks into CRLF.
func canonicalLines(s string) []byte {
	if !strings.ContainsAny(s, "\r\n") {
		return []byte(s)
	}
	out := make([]byte, 0, len(s)+len(s)/40+2)
	if strings.IndexByte(s, '\r') < 0 {
		// Only LF (text from JSON, usually): copy line by line.
		for {
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				return append(out, s...)
			}
			out = append(append(out, s[:i]...), '\r', '\n')
			s = s[i+1:]
		}
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\r':
			out = append(out, '\r', '\n')
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
		case '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, c)
		}
	}
	return out
}

var cr = []byte{'\r'}

// maxLine is the line limit of RFC 5322 §2.1.1, without the CRLF.
const maxLine = 998

// textEncoding picks the transfer encoding of canonical (CRLF) text:
// 7bit when it is ASCII with lines of at most 998 octets (RFC 2045 §2.7);
// quoted-printable when it is mostly ASCII (QP costs 3 octets per
// non-ASCII octet, base64 4/3 for all: QP is smaller below one in six);
// base64 otherwise.
func textEncoding(b []byte) string {
	nonASCII, longest := 0, 0
	for rest := b; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		longest = max(longest, len(line)-bytes.Count(line, cr))
		for _, c := range line {
			if c >= 0x80 {
				nonASCII++
			}
		}
	}
	switch {
	case nonASCII == 0 && longest <= maxLine:
		return "7bit"
	case nonASCII*6 < len(b):
		return "quoted-printable"
	}
	return "base64"
}
