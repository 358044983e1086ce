package httpapi

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// TestMessageStatus: after a delivery attempt that delivered one
// recipient, deferred one and bounced one, the status shows each with
// the remote reply, the next attempt and the reason; the bounce put the
// address on the suppression list; another domain's key sees nothing.
func TestMessageStatus(t *testing.T) {
	e := newEnv(t, Options{})
	if err := e.st.AddDomain(t.Context(), "example.net"); err != nil {
		t.Fatal(err)
	}
	key := e.key("shop", "example.org")
	stranger := e.key("net", "example.net")
	v := sent(t, e.do("POST", "/api/v1/messages", key, "application/json",
		strings.NewReader(`{"from": "shop@example.org", "to": ["ok@remote.example", "later@remote.example", "gone@remote.example"], "text": "x"}`)), 202)
	status := func() messageStatus {
		t.Helper()
		r := e.do("GET", "/api/v1/messages/"+v.ID, key, "", nil)
		var st messageStatus
		if r.status != 200 || json.Unmarshal(r.body, &st) != nil {
			t.Fatalf("status: %d %s", r.status, r.body)
		}
		return st
	}
	st := status()
	if st.ID != v.ID || len(st.Recipients) != 3 || st.Recipients[0].Status != "queued" || st.Queued.IsZero() {
		t.Errorf("status after the send: %+v", st)
	}
	ctx := t.Context()
	claimed, err := e.st.ClaimQueued(ctx, time.Now().Add(time.Second), time.Minute, 10, "node-a")
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	next := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	err = e.st.FinishAttempt(ctx, store.Attempt{ID: claimed[0].ID, Lease: claimed[0].Lease, NextAttempt: next, LastError: "451 4.3.0 try later",
		Results: []store.RecipientStatus{
			{Address: "ok@remote.example", State: store.RecipientDelivered, Reply: "250 2.0.0 queued as ABC"},
			{Address: "later@remote.example", State: store.RecipientPending, Reply: "451 4.3.0 try later"},
			{Address: "gone@remote.example", State: store.RecipientFailed, Reply: "550 5.1.1 no such user"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	st = status()
	got := map[string]recipientStatus{}
	for _, rs := range st.Recipients {
		got[rs.Email] = rs
	}
	if d := got["ok@remote.example"]; d.Status != "delivered" || d.Reply != "250 2.0.0 queued as ABC" {
		t.Errorf("delivered: %+v", d)
	}
	if d := got["later@remote.example"]; d.Status != "deferred" || d.Reply != "451 4.3.0 try later" || !d.NextAttempt.Equal(next) {
		t.Errorf("deferred: %+v, want next attempt %v", d, next)
	}
	if d := got["gone@remote.example"]; d.Status != "bounced" || d.Reply != "550 5.1.1 no such user" {
		t.Errorf("bounced: %+v", d)
	}
	e.do("GET", "/api/v1/messages/"+v.ID, stranger, "", nil).wantError(t, 404, CodeNotFound, "")
	e.do("GET", "/api/v1/messages/m_nothing", key, "", nil).wantError(t, 404, CodeNotFound, "")

	// The hard bounce is on the list, and the next send to it is refused.
	r := e.do("GET", "/api/v1/suppressions", key, "", nil)
	var sl suppressionList
	if json.Unmarshal(r.body, &sl) != nil || len(sl.Suppressions) != 1 || sl.Suppressions[0].Address != "gone@remote.example" || sl.Suppressions[0].EventID == "" {
		t.Errorf("suppressions after the bounce: %d %s", r.status, r.body)
	}
	v2 := sent(t, e.do("POST", "/api/v1/messages", key, "application/json",
		strings.NewReader(`{"from": "shop@example.org", "to": ["gone@remote.example"], "text": "again"}`)), 200)
	if v2.Recipients[0].Status != "suppressed" {
		t.Errorf("send after the bounce: %+v", v2)
	}
}

// TestEvents: filters by type, recipient and message; paging with the
// cursor visits every event once; bad parameters name their field.
func TestEvents(t *testing.T) {
	e := newEnv(t, Options{})
	if err := e.st.AddDomain(t.Context(), "example.net"); err != nil {
		t.Fatal(err)
	}
	key := e.key("shop", "example.org")
	netKey := e.key("net", "example.net")
	var ids []string
	for _, to := range []string{"a@remote.example", "b@remote.example", "a@remote.example"} {
		ids = append(ids, sent(t, e.do("POST", "/api/v1/messages", key, "application/json",
			strings.NewReader(`{"from": "shop@example.org", "to": ["`+to+`"], "text": "x"}`)), 202).ID)
	}
	list := func(k, query string) eventList {
		t.Helper()
		r := e.do("GET", "/api/v1/events?"+query, k, "", nil)
		var l eventList
		if r.status != 200 || json.Unmarshal(r.body, &l) != nil {
			t.Fatalf("events?%s: %d %s", query, r.status, r.body)
		}
		return l
	}
	if l := list(key, ""); len(l.Events) != 3 || l.NextCursor != "" || l.Events[0].Message != ids[0] || l.Events[0].Type != store.EventQueued {
		t.Errorf("all: %+v", l)
	}
	if l := list(key, "recipient=A@remote.example"); len(l.Events) != 2 {
		t.Errorf("by recipient: %+v", l)
	}
	if l := list(key, "message="+ids[1]); len(l.Events) != 1 || l.Events[0].Recipient != "b@remote.example" {
		t.Errorf("by message: %+v", l)
	}
	if l := list(key, "type=delivered,bounced"); len(l.Events) != 0 {
		t.Errorf("by type: %+v", l)
	}
	if l := list(key, "since="+url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))); len(l.Events) != 0 {
		t.Errorf("since the future: %+v", l)
	}
	seen := map[string]bool{}
	cursor := ""
	for range 5 {
		l := list(key, "limit=1&cursor="+cursor)
		for _, ev := range l.Events {
			seen[ev.ID] = true
		}
		if cursor = l.NextCursor; cursor == "" {
			break
		}
	}
	if len(seen) != 3 {
		t.Errorf("paging saw %d events, want 3", len(seen))
	}
	if l := list(netKey, ""); len(l.Events) != 0 {
		t.Errorf("another domain's key sees %d events", len(l.Events))
	}
	e.do("GET", "/api/v1/events?type=opened", key, "", nil).wantError(t, 400, CodeInvalid, "type")
	e.do("GET", "/api/v1/events?since=yesterday", key, "", nil).wantError(t, 400, CodeInvalid, "since")
	e.do("GET", "/api/v1/events?limit=5000", key, "", nil).wantError(t, 400, CodeInvalid, "limit")
	e.do("GET", "/api/v1/events?cursor=x", key, "", nil).wantError(t, 400, CodeInvalid, "cursor")
}

// TestSuppressionsAndWebhooks: add, list, remove through the API, each
// key in its own domain.
func TestSuppressionsAndWebhooks(t *testing.T) {
	e := newEnv(t, Options{})
	if err := e.st.AddDomain(t.Context(), "example.net"); err != nil {
		t.Fatal(err)
	}
	key := e.key("shop", "example.org")
	netKey := e.key("net", "example.net")
	if r := e.do("POST", "/api/v1/suppressions", key, "application/json", strings.NewReader(`{"address": "X@remote.example", "reason": "asked us"}`)); r.status != 201 {
		t.Fatalf("add: %d %s", r.status, r.body)
	}
	e.do("POST", "/api/v1/suppressions", key, "application/json", strings.NewReader(`{"address": "x@remote.example"}`)).wantError(t, 409, CodeConflict, "address")
	e.do("POST", "/api/v1/suppressions", key, "application/json", strings.NewReader(`{"address": "nope"}`)).wantError(t, 400, CodeInvalid, "address")
	e.do("DELETE", "/api/v1/suppressions/x@remote.example", netKey, "", nil).wantError(t, 404, CodeNotFound, "")
	if r := e.do("DELETE", "/api/v1/suppressions/x@remote.example", key, "", nil); r.status != 204 {
		t.Errorf("remove: %d %s", r.status, r.body)
	}
	e.do("DELETE", "/api/v1/suppressions/x@remote.example", key, "", nil).wantError(t, 404, CodeNotFound, "")

	r := e.do("POST", "/api/v1/webhooks", key, "application/json", strings.NewReader(`{"url": "https://app.example/hooks", "types": ["bounced", "delivered"]}`))
	var wh webhook
	if r.status != 201 || json.Unmarshal(r.body, &wh) != nil || wh.ID == 0 || !strings.HasPrefix(wh.Secret, "whsec_") || len(wh.Types) != 2 {
		t.Fatalf("add webhook: %d %s", r.status, r.body)
	}
	e.do("POST", "/api/v1/webhooks", key, "application/json", strings.NewReader(`{"url": "ftp://x"}`)).wantError(t, 400, CodeInvalid, "url")
	e.do("POST", "/api/v1/webhooks", key, "application/json", strings.NewReader(`{"url": "https://x.example", "types": ["opened"]}`)).wantError(t, 400, CodeInvalid, "types[0]")
	r = e.do("GET", "/api/v1/webhooks", key, "", nil)
	if r.status != 200 || !strings.Contains(string(r.body), "https://app.example/hooks") || strings.Contains(string(r.body), wh.Secret) {
		t.Errorf("list webhooks: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/v1/webhooks", netKey, "", nil); strings.Contains(string(r.body), "app.example") {
		t.Errorf("another domain sees the webhook: %s", r.body)
	}
	id := "/api/v1/webhooks/" + itoa(wh.ID)
	e.do("DELETE", id, netKey, "", nil).wantError(t, 404, CodeNotFound, "")
	if r := e.do("DELETE", id, key, "", nil); r.status != 204 {
		t.Errorf("remove webhook: %d %s", r.status, r.body)
	}
	e.do("DELETE", id, key, "", nil).wantError(t, 404, CodeNotFound, "")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
