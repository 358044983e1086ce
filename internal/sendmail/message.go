package sendmail

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
)

// MaxInput bounds the message read from standard input; the server has
// its own, usually smaller, limit ([limits.smtp] max_message_size).
const MaxInput = 1 << 30

// ErrTooBig is returned for input beyond MaxInput.
var ErrTooBig = errors.New("message larger than 1 GiB")

// ReadMessage reads a message from r: every line ending (LF or CRLF)
// becomes CRLF, a last line without one gets one, and unless ignoreDots
// a line with a lone "." ends the message (the rest is not read).
func ReadMessage(r io.Reader, ignoreDots bool) ([]byte, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, MaxInput+1), 64<<10)
	var out []byte
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			content := bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
			if !ignoreDots && string(content) == "." {
				return out, nil
			}
			out = append(out, content...)
			out = append(out, '\r', '\n')
			if len(out) > MaxInput {
				return nil, ErrTooBig
			}
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// Message is a message read from standard input, split for editing.
type Message struct {
	// Header holds the header fields, each with its continuation lines
	// and CRLFs.
	Header []string
	// Body is everything after the header section's empty line.
	Body []byte
}

// ParseMessage splits msg (CRLF lines, as ReadMessage returns) into its
// header fields and body. Input that does not start with header fields
// (a script piping plain text) is all body.
func ParseMessage(msg []byte) *Message {
	m := &Message{}
	rest := msg
	for len(rest) > 0 {
		line := rest
		if i := bytes.Index(rest, []byte("\r\n")); i >= 0 {
			line = rest[:i+2]
		}
		switch {
		case string(line) == "\r\n": // the empty line ending the header section
			m.Body = rest[2:]
			return m
		case (line[0] == ' ' || line[0] == '\t') && len(m.Header) > 0:
			m.Header[len(m.Header)-1] += string(line)
		case isFieldLine(line) && bytes.HasSuffix(line, []byte("\r\n")):
			m.Header = append(m.Header, string(line))
		default:
			// Not a header field: the body starts here, without an
			// empty line in front; Bytes adds one.
			m.Body = rest
			return m
		}
		rest = rest[len(line):]
	}
	m.Body = []byte{}
	return m
}

// isFieldLine reports whether line starts a header field (RFC 5322 §2.2:
// printable US-ASCII name, then a colon).
func isFieldLine(line []byte) bool {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return false
	}
	for _, c := range line[:i] {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// name is a field's name, as written.
func fieldName(f string) string {
	n, _, _ := strings.Cut(f, ":")
	return n
}

// fieldValue is a field's body with the folding removed.
func fieldValue(f string) string {
	_, v, _ := strings.Cut(f, ":")
	v = strings.ReplaceAll(v, "\r\n", "")
	return strings.TrimSpace(v)
}

// Has reports whether the message has a field called name.
func (m *Message) Has(name string) bool {
	for _, f := range m.Header {
		if strings.EqualFold(fieldName(f), name) {
			return true
		}
	}
	return false
}

// Recipients returns the addresses of the To:, Cc: and Bcc: fields (-t).
func (m *Message) Recipients() ([]string, error) {
	var out []string
	for _, f := range m.Header {
		name := fieldName(f)
		if !strings.EqualFold(name, "To") && !strings.EqualFold(name, "Cc") && !strings.EqualFold(name, "Bcc") {
			continue
		}
		v := fieldValue(f)
		if v == "" || isEmptyGroup(v) {
			continue // "Bcc:" alone, "undisclosed-recipients:;"
		}
		list, err := (&mail.AddressParser{}).ParseList(v)
		if err != nil {
			// "To: root", as scripts write it: bare local parts, which
			// the command completes with the server's host name.
			bare, berr := splitRecipients(v)
			if berr != nil || len(bare) == 0 {
				return nil, fmt.Errorf("cannot read the addresses of %s: %q: %v", name, printable(v), err)
			}
			out = append(out, bare...)
			continue
		}
		for _, a := range list {
			out = append(out, a.Address)
		}
	}
	return out, nil
}

// isEmptyGroup reports whether v is an empty group ("name:;").
func isEmptyGroup(v string) bool {
	name, rest, ok := strings.Cut(v, ":")
	return ok && name != "" && strings.TrimSpace(rest) == ";"
}

// RemoveBcc drops the Bcc: fields, as Postfix's cleanup does: the
// recipients must not learn of each other's blind copies.
func (m *Message) RemoveBcc() {
	kept := m.Header[:0]
	for _, f := range m.Header {
		if !strings.EqualFold(fieldName(f), "Bcc") {
			kept = append(kept, f)
		}
	}
	m.Header = kept
}

// AddFrom adds "From: name <addr>" at the top when the message has no
// From: field. The server adds Date: and Message-ID: (RFC 6409 §8).
func (m *Message) AddFrom(name, addr string) {
	if m.Has("From") || addr == "" {
		return
	}
	f := "From: " + (&mail.Address{Name: name, Address: addr}).String() + "\r\n"
	m.Header = append([]string{f}, m.Header...)
}

// Bytes is the message to submit.
func (m *Message) Bytes() []byte {
	var b bytes.Buffer
	for _, f := range m.Header {
		b.WriteString(f)
	}
	b.WriteString("\r\n")
	b.Write(m.Body)
	return b.Bytes()
}
