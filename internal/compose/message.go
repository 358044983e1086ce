// Package compose turns the JSON message model of the HTTP send API into an
// RFC 5322 / MIME message (Build), and an incoming RFC 5322 message into a
// JSON-ready struct for inbound routes (Parse).
//
// Building uses github.com/emersion/go-message for header encoding and
// folding (RFC 2047 words, RFC 2231 parameters), multipart boundaries and the
// quoted-printable and base64 transfer encodings. What is ours: the choice of
// MIME shape (single part, multipart/alternative, related, mixed), the choice
// of transfer encoding per part, line-ending canonicalisation of text parts,
// and the refusal of header fields the builder owns.
package compose

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-message/mail"
)

// Message is the body of POST /api/v1/messages: one message to build and
// send. Field names are the JSON names; see Validate for the rules.
type Message struct {
	// From is the author. In JSON either a string, "a@example.org" or
	// "Name <a@example.org>", or an object {"name": ..., "email": ...}.
	// Required.
	From Address `json:"from"`
	// To, Cc and Bcc are recipient lists, each element shaped like From.
	// At least one recipient in all three together is required. Bcc
	// recipients get the message but never appear in its header.
	To  []Address `json:"to,omitempty"`
	Cc  []Address `json:"cc,omitempty"`
	Bcc []Address `json:"bcc,omitempty"`
	// ReplyTo becomes the Reply-To field.
	ReplyTo []Address `json:"reply_to,omitempty"`
	// Subject is UTF-8 text; non-ASCII is sent as RFC 2047 encoded words.
	Subject string `json:"subject,omitempty"`
	// Text and HTML are the bodies (UTF-8). At least one of them is
	// required; with both the message is multipart/alternative.
	Text string `json:"text,omitempty"`
	HTML string `json:"html,omitempty"`
	// Attachments are files attached to the message, or images shown
	// inline in the HTML (those with a content_id).
	Attachments []Attachment `json:"attachments,omitempty"`
	// Headers are extra header fields, name to value. Fields the builder
	// writes itself or that belong to transport (From, To, Cc, Bcc,
	// Subject, Date, Message-ID, MIME-Version, Content-*, DKIM-Signature,
	// Received, Return-Path, ...) are refused, as are CR and LF in names
	// and values.
	Headers map[string]string `json:"headers,omitempty"`
	// Tags and Metadata are kept out of the message: the API stores them
	// with the message's events.
	Tags     []string          `json:"tags,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Attachment is one attached file or inline image.
type Attachment struct {
	// Filename is the file's name as the recipient sees it (UTF-8; non-ASCII
	// is sent as an RFC 2231 parameter). Required unless ContentID is set.
	Filename string `json:"filename,omitempty"`
	// ContentType is the media type, e.g. "image/png". When empty it is
	// guessed from the filename's extension, else application/octet-stream.
	ContentType string `json:"content_type,omitempty"`
	// Content is the file's bytes in standard base64 (RFC 4648 §4; line
	// breaks allowed). Required (may decode to zero bytes).
	Content string `json:"content"`
	// ContentID makes the part addressable from the HTML as "cid:ID"
	// (without angle brackets). With an HTML body, such parts go into a
	// multipart/related around it.
	ContentID string `json:"content_id,omitempty"`
	// Disposition is "attachment" or "inline". Default: "inline" when
	// ContentID is set, else "attachment".
	Disposition string `json:"disposition,omitempty"`
}

// Address is a mailbox with an optional display name.
type Address struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email"`
}

// UnmarshalJSON accepts a string in RFC 5322 form ("a@b", "Name <a@b>") or
// an object {"name", "email"}. A string that does not parse is kept whole in
// Email so that Validate reports it with its field path.
func (a *Address) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = parseAddressString(s)
		return nil
	}
	if len(b) > 0 && b[0] == '{' {
		type plain Address
		var p plain
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields() // {"mail": ...} is a mistake, not an empty address
		if err := dec.Decode(&p); err != nil {
			return err
		}
		*a = Address(p)
		return nil
	}
	return errors.New("an address must be a string or an object with name and email")
}

// parseAddressString parses "Name <a@b>" or "a@b". What net/mail cannot
// parse is returned as Email, unchanged, for Validate to refuse.
func parseAddressString(s string) Address {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, "<\"(") {
		return Address{Email: s}
	}
	p, err := mail.ParseAddress(s)
	if err != nil {
		return Address{Email: s}
	}
	return Address{Name: p.Name, Email: p.Address}
}

// String is the address as a header would show it, for logs.
func (a Address) String() string {
	if a.Name == "" {
		return a.Email
	}
	return fmt.Sprintf("%q <%s>", a.Name, a.Email)
}

// Recipients returns the envelope recipients (To, Cc and Bcc), in that
// order, without duplicates (compared case-insensitively).
func (m *Message) Recipients() []string {
	seen := map[string]bool{}
	var out []string
	for _, list := range [][]Address{m.To, m.Cc, m.Bcc} {
		for _, a := range list {
			k := strings.ToLower(a.Email)
			if !seen[k] {
				seen[k] = true
				out = append(out, a.Email)
			}
		}
	}
	return out
}
