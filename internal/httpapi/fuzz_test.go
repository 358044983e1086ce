package httpapi

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzSendRequest feeds arbitrary bodies to both decoders of POST
// /api/v1/messages: JSON (strict decoding, then compose.Build) and raw
// message/rfc822. Neither may panic; an error must be an *Error with a
// client status (never a 500); a raw message accepted has CRLF line
// endings only and, when its recipients came from the header, no Bcc
// field left.
func FuzzSendRequest(f *testing.F) {
	f.Add([]byte(`{"from": "a@example.org", "to": ["b@example.net"], "text": "hi"}`))
	f.Add([]byte(`{"from": {"name": "A", "email": "a@example.org"}, "bcc": ["c@example.net"], "html": "<p>x</p>", "attachments": [{"filename": "f.txt", "content": "aGk="}]}`))
	f.Add([]byte("From: a@example.org\nTo: b@example.net\nBcc: c@example.net,\n d@example.net\n\nbody\n"))
	f.Add([]byte("From: a@example.org\r\nTo: b@example.net\r\n\r\nx\r\n"))
	s := &Server{now: time.Now}
	f.Fuzz(func(t *testing.T, body []byte) {
		if out, err := s.readJSONSend(body, time.Unix(0, 0)); err != nil {
			if e := asError(err); e == nil || e.Status >= 500 {
				t.Fatalf("JSON: %v is not a client error", err)
			}
		} else if len(out.rcpts) == 0 || len(out.body) == 0 {
			t.Fatalf("JSON accepted without recipients or body: %+v", out)
		}
		r := httptest.NewRequest("POST", "/api/v1/messages", bytes.NewReader(body))
		out, err := s.readRawSend(r, body)
		if err != nil {
			if e := asError(err); e == nil || e.Status >= 500 {
				t.Fatalf("raw: %v is not a client error", err)
			}
			return
		}
		if bytes.Contains(bytes.ReplaceAll(out.body, []byte("\r\n"), nil), []byte("\n")) ||
			bytes.Contains(bytes.ReplaceAll(out.body, []byte("\r\n"), nil), []byte("\r")) {
			t.Fatalf("raw body keeps a bare CR or LF: %q", out.body)
		}
		for _, line := range strings.Split(string(headerSection(out.body)), "\r\n") {
			if name, _, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(name), "bcc") && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "\t") {
				t.Fatalf("Bcc left in the header: %q", out.body)
			}
		}
	})
}
