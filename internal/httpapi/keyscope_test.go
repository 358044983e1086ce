package httpapi

import (
	"encoding/json"
	"io"
	"net/url"
	"strings"
	"testing"
)

// TestAddressKeyScope: a key limited to one address may not read or
// change the domain's suppression list or webhooks (403 forbidden), and
// lists only events it can name: those of a message (its id) or those to
// its own address; a domain key still has all of it.
func TestAddressKeyScope(t *testing.T) {
	e := newEnv(t, Options{})
	shop := e.key("shop", "example.org")
	news := e.key("news", "news@example.org")
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/api/v1/suppressions", ""},
		{"POST", "/api/v1/suppressions", `{"address": "x@remote.example"}`},
		{"DELETE", "/api/v1/suppressions/x@remote.example", ""},
		{"GET", "/api/v1/webhooks", ""},
		{"POST", "/api/v1/webhooks", `{"url": "https://app.example/hook"}`},
		{"DELETE", "/api/v1/webhooks/1", ""},
		{"GET", "/api/v1/events", ""},
		{"GET", "/api/v1/events?type=bounced", ""},
		{"GET", "/api/v1/events?recipient=someone@example.org", ""},
	} {
		field := ""
		if strings.HasPrefix(c.path, "/api/v1/events") {
			field = "message"
		}
		var body io.Reader
		if c.body != "" {
			body = strings.NewReader(c.body)
		}
		r := e.do(c.method, c.path, news, "application/json", body)
		if got := r.wantError(t, 403, CodeForbidden, field); !strings.Contains(got.Message, "news@example.org") {
			t.Errorf("%s %s: message %q does not name the key's address", c.method, c.path, got.Message)
		}
	}
	if r := e.do("POST", "/api/v1/suppressions", shop, "application/json", strings.NewReader(`{"address": "x@remote.example"}`)); r.status != 201 {
		t.Fatalf("domain key adding a suppression: %d %s", r.status, r.body)
	}

	v := sent(t, e.do("POST", "/api/v1/messages", news, "application/json",
		strings.NewReader(`{"from": "news@example.org", "to": ["ann@remote.example"], "text": "hi"}`)), 202)
	sent(t, e.do("POST", "/api/v1/messages", shop, "application/json",
		strings.NewReader(`{"from": "shop@example.org", "to": ["bob@remote.example"], "text": "hi"}`)), 202)
	events := func(key, query string) []string {
		t.Helper()
		r := e.do("GET", "/api/v1/events?"+query, key, "", nil)
		var l eventList
		if r.status != 200 || json.Unmarshal(r.body, &l) != nil {
			t.Fatalf("GET /events?%s: %d %s", query, r.status, r.body)
		}
		var out []string
		for _, ev := range l.Events {
			out = append(out, string(ev.Type)+" "+ev.Recipient)
		}
		return out
	}
	if got := events(news, "message="+url.QueryEscape(v.ID)); strings.Join(got, ",") != "queued ann@remote.example" {
		t.Errorf("address key, its message's events: %q", got)
	}
	if got := events(news, "recipient=NEWS@example.org"); len(got) != 0 {
		t.Errorf("address key, events to its address: %q", got)
	}
	if got := events(shop, ""); len(got) != 2 {
		t.Errorf("domain key, all events: %q", got)
	}
	if r := e.do("GET", "/api/v1/messages/"+v.ID, news, "", nil); r.status != 200 {
		t.Errorf("address key, its message's status: %d %s", r.status, r.body)
	}
}
