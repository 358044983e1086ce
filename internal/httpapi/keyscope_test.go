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

// TestAddressKeySeesOnlyItsMessages: two keys limited to addresses of one
// domain each see the status and events of the messages sent as their
// address (by themselves, or by the domain key from that address) and get
// 404, the very answer an unknown id gets, for the other's; the domain
// key sees every message of the domain.
func TestAddressKeySeesOnlyItsMessages(t *testing.T) {
	e := newEnv(t, Options{})
	shop := e.key("shop", "example.org")
	ann := e.key("ann", "ann@example.org")
	bob := e.key("bob", "bob@example.org")
	send := func(key, from string) string {
		t.Helper()
		return sent(t, e.do("POST", "/api/v1/messages", key, "application/json",
			strings.NewReader(`{"from": "`+from+`", "to": ["x@remote.example"], "text": "hi"}`)), 202).ID
	}
	annMsg, bobMsg := send(ann, "ann@example.org"), send(bob, "bob@example.org")
	asAnn := send(shop, "Ann@example.org") // sent as Ann by the domain key
	unknown := e.do("GET", "/api/v1/messages/m_aaaaaaaaaaaaaaaaaaaaaaaaaa", ann, "", nil)
	unknown.wantError(t, 404, CodeNotFound, "")

	for _, c := range []struct {
		name, key, id string
		visible       bool
	}{
		{"ann, her message", ann, annMsg, true},
		{"ann, sent as her by the domain key", ann, asAnn, true},
		{"ann, bob's message", ann, bobMsg, false},
		{"bob, his message", bob, bobMsg, true},
		{"bob, ann's message", bob, annMsg, false},
		{"bob, sent as ann", bob, asAnn, false},
		{"domain key, ann's", shop, annMsg, true},
		{"domain key, bob's", shop, bobMsg, true},
	} {
		r := e.do("GET", "/api/v1/messages/"+c.id, c.key, "", nil)
		evs := e.do("GET", "/api/v1/events?message="+url.QueryEscape(c.id), c.key, "", nil)
		var l eventList
		if evs.status != 200 || json.Unmarshal(evs.body, &l) != nil {
			t.Fatalf("%s: GET /events?message: %d %s", c.name, evs.status, evs.body)
		}
		if c.visible {
			if r.status != 200 || !strings.Contains(string(r.body), `"x@remote.example"`) {
				t.Errorf("%s: GET /messages/{id} = %d %s, want its status", c.name, r.status, r.body)
			}
			if len(l.Events) != 1 || l.Events[0].Message != c.id || l.Events[0].Type != "queued" {
				t.Errorf("%s: events = %+v, want its queued event", c.name, l.Events)
			}
			continue
		}
		r.wantError(t, 404, CodeNotFound, "")
		if string(r.body) != string(unknown.body) {
			t.Errorf("%s: 404 body %s differs from an unknown id's %s", c.name, r.body, unknown.body)
		}
		if len(l.Events) != 0 {
			t.Errorf("%s: events = %+v, want none", c.name, l.Events)
		}
	}
}
