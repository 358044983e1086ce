package httpapi

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/mail"
	"net/textproto"

	"github.com/posthorn/posthorn/internal/smtp"
)

// A raw send: Content-Type message/rfc822, the body an RFC 5322 message.
// The envelope sender is the query parameter "from", else the Sender:
// address, else the first From: address; the recipients are the "to"
// parameters (repeated), else every To:, Cc: and Bcc: address. The Bcc:
// field is removed from the message either way, as posthorn sendmail and
// Postfix do: with explicit recipients the To: and Cc: ones would
// otherwise see who got a blind copy.

// readRawSend reads a raw message and its envelope.
func (s *Server) readRawSend(r *http.Request, raw []byte) (outgoing, error) {
	body, err := canonicalCRLF(raw)
	if err != nil {
		return outgoing{}, err
	}
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(headerSection(body)))).ReadMIMEHeader()
	if err != nil {
		return outgoing{}, errInvalid("body", "malformed message header: "+err.Error())
	}
	var out outgoing
	q := r.URL.Query()
	if f := q.Get("from"); f != "" {
		if out.from, err = smtp.ParseAddress(f); err != nil {
			return outgoing{}, errInvalid("from", fmt.Sprintf("%q: not an email address", f))
		}
	} else {
		field := "Sender"
		if h.Get(field) == "" {
			field = "From"
		}
		list, err := mail.ParseAddressList(h.Get(field))
		if err != nil || len(list) == 0 {
			return outgoing{}, errInvalid("from", "no from parameter and no usable From: header")
		}
		if out.from, err = smtp.ParseAddress(list[0].Address); err != nil {
			return outgoing{}, errInvalid("from", fmt.Sprintf("%q: not an email address", list[0].Address))
		}
	}
	if to := q["to"]; len(to) > 0 {
		for i, a := range to {
			if err := out.addRecipient(a, fmt.Sprintf("to[%d]", i)); err != nil {
				return outgoing{}, err
			}
		}
	} else {
		for _, name := range []string{"To", "Cc", "Bcc"} {
			for _, v := range h.Values(name) {
				list, err := mail.ParseAddressList(v)
				if err != nil {
					return outgoing{}, errInvalid(name, fmt.Sprintf("%s: header: %v", name, err))
				}
				for _, a := range list {
					if err := out.addRecipient(a.Address, name); err != nil {
						return outgoing{}, err
					}
				}
			}
		}
	}
	body = removeField(body, "Bcc")
	if len(out.rcpts) == 0 {
		return outgoing{}, errInvalid("to", "no recipients: give to parameters or To:, Cc: or Bcc: fields")
	}
	out.body = body
	return out, nil
}

// canonicalCRLF returns b with every bare LF made CRLF; a bare CR is
// refused, as SMTP refuses it (smuggling).
func canonicalCRLF(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, errInvalid("body", "empty message")
	}
	bare := 0
	for i, c := range b {
		switch {
		case c == '\r' && (i+1 == len(b) || b[i+1] != '\n'):
			return nil, errInvalid("body", "bare CR in the message")
		case c == '\n' && (i == 0 || b[i-1] != '\r'):
			bare++
		}
	}
	if bare == 0 {
		if !bytes.HasSuffix(b, []byte("\r\n")) {
			b = append(b, "\r\n"...)
		}
		return b, nil
	}
	out := make([]byte, 0, len(b)+bare+2)
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	if !bytes.HasSuffix(out, []byte("\r\n")) {
		out = append(out, "\r\n"...)
	}
	return out, nil
}

// headerSection returns the header fields of a CRLF message with the
// empty line that ends them.
func headerSection(body []byte) []byte {
	if bytes.HasPrefix(body, []byte("\r\n")) {
		return body[:2]
	}
	if i := bytes.Index(body, []byte("\r\n\r\n")); i >= 0 {
		return body[:i+4]
	}
	return append(bytes.Clone(body), "\r\n"...)
}

// removeField returns body without the header fields called name (with
// their continuation lines).
func removeField(body []byte, name string) []byte {
	hdr := headerSection(body)
	if len(hdr) > len(body) {
		hdr = body
	}
	var out []byte
	skip := false
	for rest := hdr; len(rest) > 0; {
		i := bytes.Index(rest, []byte("\r\n"))
		if i < 0 {
			i = len(rest) - 2
		}
		line := rest[:i+2]
		rest = rest[i+2:]
		if line[0] == ' ' || line[0] == '\t' {
			if !skip {
				out = append(out, line...)
			}
			continue
		}
		n, _, ok := bytes.Cut(line, []byte(":"))
		skip = ok && bytes.EqualFold(bytes.TrimRight(n, " \t"), []byte(name))
		if !skip {
			out = append(out, line...)
		}
	}
	if out == nil && len(hdr) == len(body) {
		return body
	}
	return append(out, body[len(hdr):]...)
}
