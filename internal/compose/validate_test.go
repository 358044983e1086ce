package compose

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestAddressJSONShapes(t *testing.T) {
	var m Message
	body := `{"from":"Zoë Ünicode <zoe@example.org>","to":["a@example.com",{"name":"Bob","email":"bob@example.com"}],"cc":["\"Doe, Jane\" <jane@example.com>"]}`
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	want := Address{Name: "Zoë Ünicode", Email: "zoe@example.org"}
	if m.From != want {
		t.Errorf("from = %+v, want %+v", m.From, want)
	}
	if m.To[0] != (Address{Email: "a@example.com"}) || m.To[1] != (Address{Name: "Bob", Email: "bob@example.com"}) {
		t.Errorf("to = %+v", m.To)
	}
	if m.Cc[0] != (Address{Name: "Doe, Jane", Email: "jane@example.com"}) {
		t.Errorf("cc = %+v", m.Cc)
	}
	if err := json.Unmarshal([]byte(`{"from":42}`), &m); err == nil {
		t.Error("a number as address was accepted")
	}
	if err := json.Unmarshal([]byte(`{"from":{"name":"x","mail":"a@b.example"}}`), &m); err == nil {
		t.Error("an address object with an unknown field was accepted")
	}
}

func validMessage() Message {
	return Message{
		From:    Address{Email: "app@example.org"},
		To:      []Address{{Email: "user@example.com"}},
		Subject: "hello",
		Text:    "hi",
	}
}

func TestValidateFieldPaths(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*Message)
		field string
	}{
		{"no from", func(m *Message) { m.From = Address{} }, "from"},
		{"bad from", func(m *Message) { m.From = Address{Email: "not an address"} }, "from"},
		{"injected name", func(m *Message) { m.From.Name = "x\r\nBcc: evil@example.net" }, "from.name"},
		{"no recipients", func(m *Message) { m.To = nil }, "to"},
		{"bad cc", func(m *Message) { m.Cc = []Address{{Email: "ok@example.com"}, {Email: "bad@"}} }, "cc[1]"},
		{"injected recipient", func(m *Message) { m.To = []Address{{Email: "a@example.com>\r\nBcc: x@example.net"}} }, "to[0]"},
		{"subject injection", func(m *Message) { m.Subject = "hi\r\nBcc: evil@example.net" }, "subject"},
		{"subject LF", func(m *Message) { m.Subject = "hi\nX: y" }, "subject"},
		{"no body", func(m *Message) { m.Text = "" }, "text"},
		{"bad utf8 html", func(m *Message) { m.HTML = "\xff" }, "html"},
		{"bad base64", func(m *Message) {
			m.Attachments = []Attachment{{Filename: "a", Content: "aGk="}, {Filename: "b", Content: "aGk="}, {Filename: "c", Content: "!!"}}
		}, "attachments[2].content"},
		{"no filename", func(m *Message) { m.Attachments = []Attachment{{Content: "aGk="}} }, "attachments[0].filename"},
		{"bad content type", func(m *Message) {
			m.Attachments = []Attachment{{Filename: "a", ContentType: "text/plain\r\nX: y", Content: ""}}
		}, "attachments[0].content_type"},
		{"multipart attachment", func(m *Message) {
			m.Attachments = []Attachment{{Filename: "a", ContentType: "multipart/mixed", Content: ""}}
		}, "attachments[0].content_type"},
		{"bad cid", func(m *Message) { m.Attachments = []Attachment{{ContentID: "a>b", Content: ""}} }, "attachments[0].content_id"},
		{"bad disposition", func(m *Message) { m.Attachments = []Attachment{{Filename: "a", Disposition: "evil", Content: ""}} }, "attachments[0].disposition"},
		{"owned header", func(m *Message) { m.Headers = map[string]string{"X-Ok": "1", "Bcc": "x@example.net"} }, "headers.Bcc"},
		{"content header", func(m *Message) { m.Headers = map[string]string{"Content-Foo": "1"} }, "headers.Content-Foo"},
		{"dkim header", func(m *Message) { m.Headers = map[string]string{"dkim-signature": "v=1"} }, "headers.dkim-signature"},
		{"header value CRLF", func(m *Message) { m.Headers = map[string]string{"X-A": "1\r\nBcc: x@example.net"} }, "headers.X-A"},
		{"header value LF", func(m *Message) { m.Headers = map[string]string{"X-A": "1\nBcc: x@example.net"} }, "headers.X-A"},
		{"header name colon", func(m *Message) { m.Headers = map[string]string{"X-A: b\r\nBcc": "x"} }, "headers.X-A: b\r\nBcc"},
		{"header name space", func(m *Message) { m.Headers = map[string]string{"X A": "x"} }, "headers.X A"},
		{"tag", func(m *Message) { m.Tags = []string{"ok", strings.Repeat("x", MaxTagLen+1)} }, "tags[1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := validMessage()
			tc.edit(&m)
			err := m.Validate()
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate = %v, want a *FieldError", err)
			}
			if fe.Field != tc.field {
				t.Errorf("field = %q, want %q (%v)", fe.Field, tc.field, err)
			}
		})
	}
	m := validMessage()
	m.Headers = map[string]string{"List-Unsubscribe": "<mailto:u@example.org>", "X-Campaign": "Grüße"}
	if err := m.Validate(); err != nil {
		t.Errorf("valid message refused: %v", err)
	}
}

func TestRecipients(t *testing.T) {
	m := Message{To: []Address{{Email: "a@x.org"}}, Cc: []Address{{Email: "B@x.org"}, {Email: "A@x.org"}}, Bcc: []Address{{Email: "c@x.org"}}}
	got := strings.Join(m.Recipients(), " ")
	if got != "a@x.org B@x.org c@x.org" {
		t.Errorf("Recipients = %q", got)
	}
}
