package compose

import (
	"encoding/base64"
	"fmt"
	"mime"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/posthorn/posthorn/internal/smtp"
)

// FieldError is a validation failure of one field of a Message. Field is
// the JSON path of the field ("from", "to[1]", "attachments[2].content",
// "headers.X-Foo"), for the API's {"error": {"field": ...}}.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Limits of a Message that Validate enforces. The API's request size limit
// bounds the total; these bound the parts.
const (
	MaxRecipients   = 1000 // To + Cc + Bcc
	MaxAttachments  = 100
	MaxHeaders      = 50
	MaxTags         = 20
	MaxTagLen       = 128
	MaxMetadata     = 50
	MaxMetadataKey  = 128
	MaxMetadataVal  = 1024
	MaxFilenameLen  = 255
	MaxHeaderValLen = 900 // one unfolded line with its name stays under 998 octets
	MaxNameLen      = 256 // display names
	MaxSubjectLen   = 900
)

// ownedHeaders are the fields Build writes itself or that belong to
// transport and authentication; Message.Headers may not set them.
var ownedHeaders = map[string]bool{
	"from": true, "sender": true, "to": true, "cc": true, "bcc": true,
	"reply-to": true, "subject": true, "date": true, "message-id": true,
	"mime-version": true, "dkim-signature": true, "received": true,
	"return-path": true, "authentication-results": true,
	"arc-seal": true, "arc-message-signature": true,
	"arc-authentication-results": true, "delivered-to": true,
	"content-type": true, "content-transfer-encoding": true,
	"content-disposition": true, "content-id": true,
	"resent-from": true, "resent-sender": true, "resent-to": true,
	"resent-cc": true, "resent-bcc": true, "resent-date": true,
	"resent-message-id": true,
}

// headerOwned reports whether name may not be set through Headers.
func headerOwned(name string) bool {
	l := strings.ToLower(name)
	return ownedHeaders[l] || strings.HasPrefix(l, "content-")
}

// Validate checks m and returns the first problem as a *FieldError, or nil.
// Build calls it; the API calls it to answer 400/422 before queueing.
func (m *Message) Validate() error {
	if err := checkAddress("from", m.From); err != nil {
		return err
	}
	n := 0
	for _, l := range []struct {
		name  string
		addrs []Address
	}{{"to", m.To}, {"cc", m.Cc}, {"bcc", m.Bcc}, {"reply_to", m.ReplyTo}} {
		for i, a := range l.addrs {
			if err := checkAddress(fmt.Sprintf("%s[%d]", l.name, i), a); err != nil {
				return err
			}
		}
		if l.name != "reply_to" {
			n += len(l.addrs)
		}
	}
	if n == 0 {
		return fieldErr("to", "at least one recipient (to, cc or bcc) is required")
	}
	if n > MaxRecipients {
		return fieldErr("to", "more than %d recipients", MaxRecipients)
	}
	if err := checkText("subject", m.Subject, MaxSubjectLen, false); err != nil {
		return err
	}
	if m.Text == "" && m.HTML == "" {
		return fieldErr("text", "text or html is required")
	}
	if err := checkText("text", m.Text, 0, true); err != nil {
		return err
	}
	if err := checkText("html", m.HTML, 0, true); err != nil {
		return err
	}
	if len(m.Attachments) > MaxAttachments {
		return fieldErr("attachments", "more than %d attachments", MaxAttachments)
	}
	for i := range m.Attachments {
		if err := m.Attachments[i].check(fmt.Sprintf("attachments[%d]", i)); err != nil {
			return err
		}
	}
	if len(m.Headers) > MaxHeaders {
		return fieldErr("headers", "more than %d headers", MaxHeaders)
	}
	for _, name := range sortedKeys(m.Headers) {
		v := m.Headers[name]
		f := "headers." + name
		if name == "" || !validFieldName(name) {
			return fieldErr(f, "not a valid header field name (printable ASCII without ':' or spaces)")
		}
		if headerOwned(name) {
			return fieldErr(f, "%s is set by the server and may not be given in headers", name)
		}
		if err := checkText(f, v, MaxHeaderValLen, false); err != nil {
			return err
		}
	}
	if len(m.Tags) > MaxTags {
		return fieldErr("tags", "more than %d tags", MaxTags)
	}
	for i, t := range m.Tags {
		if err := checkText(fmt.Sprintf("tags[%d]", i), t, MaxTagLen, false); err != nil {
			return err
		}
	}
	if len(m.Metadata) > MaxMetadata {
		return fieldErr("metadata", "more than %d keys", MaxMetadata)
	}
	for _, k := range sortedKeys(m.Metadata) {
		v := m.Metadata[k]
		f := "metadata." + k
		if k == "" || len(k) > MaxMetadataKey || !utf8.ValidString(k) {
			return fieldErr(f, "keys must be 1 to %d bytes of UTF-8", MaxMetadataKey)
		}
		if len(v) > MaxMetadataVal || !utf8.ValidString(v) {
			return fieldErr(f, "values must be at most %d bytes of UTF-8", MaxMetadataVal)
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func checkAddress(field string, a Address) error {
	if a.Email == "" {
		return fieldErr(field, "an email address is required")
	}
	if strings.ContainsAny(a.Email, "\r\n<>\x00 ") {
		return fieldErr(field, "%q is not a valid email address", a.Email)
	}
	if _, err := smtp.ParseAddress(a.Email); err != nil {
		return fieldErr(field, "%q is not a valid email address", a.Email)
	}
	if err := checkText(field+".name", a.Name, MaxNameLen, false); err != nil {
		return err
	}
	return nil
}

// checkText refuses invalid UTF-8 and NUL, and CR/LF unless multiline;
// max 0 means no length limit beyond the request's.
func checkText(field, s string, max int, multiline bool) error {
	if max > 0 && len(s) > max {
		return fieldErr(field, "longer than %d bytes", max)
	}
	if !utf8.ValidString(s) {
		return fieldErr(field, "not valid UTF-8")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return fieldErr(field, "contains a NUL character")
	}
	if !multiline && strings.ContainsAny(s, "\r\n") {
		return fieldErr(field, "contains a line break (CR or LF)")
	}
	return nil
}

// validFieldName: RFC 5322 §3.6.8 ftext, printable ASCII except ':'.
func validFieldName(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 33 || c > 126 || c == ':' {
			return false
		}
	}
	return true
}

func (a *Attachment) check(field string) error {
	if a.Filename == "" && a.ContentID == "" {
		return fieldErr(field+".filename", "a filename (or a content_id for an inline part) is required")
	}
	if err := checkText(field+".filename", a.Filename, MaxFilenameLen, false); err != nil {
		return err
	}
	if strings.ContainsAny(a.Filename, "/\\") {
		return fieldErr(field+".filename", "must not contain / or \\")
	}
	if a.ContentType != "" {
		if strings.ContainsAny(a.ContentType, "\r\n") {
			return fieldErr(field+".content_type", "contains a line break (CR or LF)")
		}
		t, _, err := mime.ParseMediaType(a.ContentType)
		if err != nil || !strings.Contains(t, "/") {
			return fieldErr(field+".content_type", "%q is not a media type like image/png", a.ContentType)
		}
		if strings.HasPrefix(t, "multipart/") || strings.HasPrefix(t, "message/") {
			return fieldErr(field+".content_type", "%s parts cannot be attached as base64; use application/octet-stream", t)
		}
	}
	if a.ContentID != "" {
		if len(a.ContentID) > 250 || !validContentID(a.ContentID) {
			return fieldErr(field+".content_id", "must be printable ASCII without spaces, <, >, quotes or backslash")
		}
	}
	switch a.Disposition {
	case "", "attachment", "inline":
	default:
		return fieldErr(field+".disposition", "must be \"attachment\" or \"inline\"")
	}
	if _, err := a.Data(); err != nil {
		return fieldErr(field+".content", "not valid base64: %v", err)
	}
	return nil
}

// validContentID checks a Content-ID without its angle brackets (RFC 2392:
// an addr-spec-like msg-id); we allow printable ASCII minus specials that
// would break the header or the cid: URL.
func validContentID(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 32 || c >= 127 || strings.IndexByte("<>\"\\()[],;", c) >= 0 {
			return false
		}
	}
	return true
}

// Data returns the decoded content. Line breaks in the base64 text are
// ignored.
func (a *Attachment) Data() ([]byte, error) {
	return base64.StdEncoding.DecodeString(stripSpace(a.Content))
}

func stripSpace(s string) string {
	if !strings.ContainsAny(s, " \t\r\n") {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
}
