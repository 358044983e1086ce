package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/auth"
	"github.com/posthorn/posthorn/internal/store"
)

// sent decodes a send's answer.
func sent(t *testing.T, r response, status int) sendResponse {
	t.Helper()
	var v sendResponse
	if r.status != status || json.Unmarshal(r.body, &v) != nil || !strings.HasPrefix(v.ID, "m_") {
		t.Fatalf("send: %d %s, want %d with an id", r.status, r.body, status)
	}
	return v
}

func (e *env) queued() []store.QueuedMessage {
	e.t.Helper()
	q, err := e.st.QueuedMessages(e.t.Context(), 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return q
}

func (e *env) queuedBody(id int64) string {
	e.t.Helper()
	b, err := e.st.QueuedBody(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

// inbox returns the bodies in an account's INBOX.
func (e *env) inbox(addr string) []string {
	e.t.Helper()
	ctx := e.t.Context()
	a, err := e.st.Account(ctx, addr)
	if err != nil {
		e.t.Fatal(err)
	}
	mb, err := e.st.Mailbox(ctx, a.ID, store.Inbox)
	if err != nil {
		e.t.Fatal(err)
	}
	ms, err := e.st.Messages(ctx, mb.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		b, err := e.st.MessageBody(ctx, m.ID)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

func (e *env) account(addr string) {
	e.t.Helper()
	cred, err := auth.NewCredentials("a-long-password")
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.st.AddAccount(e.t.Context(), addr, cred); err != nil {
		e.t.Fatal(err)
	}
}

// TestSendJSON: a JSON message with an attachment, to a remote, a local
// and a Bcc recipient: 202 with one status each; the remote copy queued
// with the tracking id, the local one in the INBOX with Return-Path; both
// traced "with HTTP", Bcc in neither header; tags go to the events.
func TestSendJSON(t *testing.T) {
	e := newEnv(t, Options{})
	e.account("bob@example.org")
	key := e.key("shop", "example.org")
	pdf := base64.StdEncoding.EncodeToString([]byte("%PDF-1.4 not really"))
	req := `{"from": "Shop <shop@example.org>", "to": ["Ann <ann@remote.example>"], "cc": [{"name": "Bob", "email": "bob@example.org"}],
		"bcc": ["audit@remote.example", "ANN@remote.example"], "subject": "Your receipt", "text": "Thanks!",
		"attachments": [{"filename": "receipt.pdf", "content_type": "application/pdf", "content": "` + pdf + `"}],
		"tags": ["receipt"], "metadata": {"order": "42"}}`
	v := sent(t, e.do("POST", "/api/v1/messages", key, "application/json", strings.NewReader(req)), 202)
	want := []recipientResult{{"ann@remote.example", "queued", ""}, {"bob@example.org", "delivered", ""}, {"audit@remote.example", "queued", ""}}
	if fmt.Sprint(v.Recipients) != fmt.Sprint(want) {
		t.Errorf("recipients %+v, want %+v", v.Recipients, want)
	}
	q := e.queued()
	if len(q) != 1 || q[0].TrackingID != v.ID || q[0].Domain != "example.org" || q[0].From != "shop@example.org" ||
		strings.Join(q[0].Recipients, " ") != "ann@remote.example audit@remote.example" {
		t.Fatalf("queued %+v", q)
	}
	body := e.queuedBody(q[0].ID)
	for _, s := range []string{"Received: from [127.0.0.1]\r\n\tby mail.example.org with HTTP id " + v.ID, "Subject: Your receipt", "receipt.pdf", "multipart/mixed"} {
		if !strings.Contains(body, s) {
			t.Errorf("queued body lacks %q:\n%s", s, body)
		}
	}
	if strings.Contains(body, "audit@") || strings.HasPrefix(body, "Return-Path") {
		t.Errorf("queued body shows Bcc or Return-Path:\n%s", body)
	}
	in := e.inbox("bob@example.org")
	if len(in) != 1 || !strings.HasPrefix(in[0], "Return-Path: <shop@example.org>\r\nReceived: ") || strings.Contains(in[0], "audit@") {
		t.Fatalf("local copy: %q", in)
	}
	// The trace fields went in front of the built message (traceInFront):
	// after them both copies are the same message, from its Date field.
	_, qmsg, _ := strings.Cut(body, "\r\nDate: ")
	_, lmsg, _ := strings.Cut(in[0], "\r\nDate: ")
	if qmsg == "" || qmsg != lmsg || !strings.HasSuffix(qmsg, "\r\n") {
		t.Errorf("after the trace fields, queued copy %q\nlocal copy %q", qmsg, lmsg)
	}
	evs, err := e.st.QueryEvents(t.Context(), store.EventFilter{Domain: "example.org", Message: v.ID})
	if err != nil || len(evs) != 3 {
		t.Fatalf("events %+v, %v", evs, err)
	}
	for _, ev := range evs {
		if !strings.Contains(string(ev.Data), `"order":"42"`) || !strings.Contains(string(ev.Data), `"receipt"`) {
			t.Errorf("event %s %s data %s", ev.Type, ev.Recipient, ev.Data)
		}
	}
}

// TestSendRaw: a raw message with LF line endings: recipients from To, Cc
// and Bcc, Bcc removed, lines made CRLF; or explicit recipients and
// sender in the query, the message left as it is but for Bcc, removed
// there too.
func TestSendRaw(t *testing.T) {
	e := newEnv(t, Options{})
	key := e.key("shop", "example.org")
	msg := "From: shop@example.org\nTo: a@remote.example\nBcc: hidden@remote.example,\n  other@remote.example\nSubject: raw\n\nHello.\n"
	v := sent(t, e.do("POST", "/api/v1/messages", key, "message/rfc822", strings.NewReader(msg)), 202)
	if len(v.Recipients) != 3 || v.Recipients[2].Email != "other@remote.example" {
		t.Errorf("recipients %+v", v.Recipients)
	}
	q := e.queued()
	body := e.queuedBody(q[0].ID)
	if strings.Contains(body, "hidden@") || strings.Contains(body, "Bcc") || !strings.Contains(body, "To: a@remote.example\r\nSubject: raw\r\n") ||
		!strings.Contains(body, "\r\nMessage-ID: <") || !strings.Contains(body, "\r\nDate: ") || !strings.HasSuffix(body, "\r\n\r\nHello.\r\n") {
		t.Errorf("queued body:\n%q", body)
	}

	msg = "From: shop@example.org\r\nTo: list@remote.example\r\nBcc: y@remote.example\r\nSubject: raw\r\n\r\nHi.\r\n"
	v = sent(t, e.do("POST", "/api/v1/messages?from=bounces@example.org&to=x@remote.example&to=y@remote.example", key, "message/rfc822", strings.NewReader(msg)), 202)
	q = e.queued()
	if len(q) != 2 || q[1].From != "bounces@example.org" || strings.Join(q[1].Recipients, " ") != "x@remote.example y@remote.example" {
		t.Errorf("queued %+v", q[1])
	}
	if body := e.queuedBody(q[1].ID); strings.Contains(body, "Bcc") || !strings.Contains(body, "To: list@remote.example\r\nSubject: raw\r\n") {
		t.Errorf("queued body with explicit recipients:\n%q", body)
	}
	e.do("POST", "/api/v1/messages", key, "message/rfc822", strings.NewReader("Subject: x\r\n\r\nno from\r\n")).wantError(t, 400, CodeInvalid, "from")
	e.do("POST", "/api/v1/messages", key, "message/rfc822", strings.NewReader("From: shop@example.org\r\n\r\nno to\r\n")).wantError(t, 400, CodeInvalid, "to")
	e.do("POST", "/api/v1/messages", key, "message/rfc822", strings.NewReader("From: shop@example.org\r\nTo: a@b.example\r\n\r\nbare\rCR\r\n")).wantError(t, 400, CodeInvalid, "body")
}

// TestSendScope: a key sends only from its domain, an address key only
// from its address, in the envelope and in From:/Sender:.
func TestSendScope(t *testing.T) {
	e := newEnv(t, Options{})
	if err := e.st.AddDomain(t.Context(), "example.net"); err != nil {
		t.Fatal(err)
	}
	dom := e.key("dom", "example.org")
	news := e.key("news", "news@example.org")
	send := func(key, from string) response {
		return e.do("POST", "/api/v1/messages", key, "application/json",
			strings.NewReader(`{"from": "`+from+`", "to": ["a@remote.example"], "text": "x"}`))
	}
	send(dom, "someone@example.net").wantError(t, 403, CodeForbidden, "from")
	send(news, "shop@example.org").wantError(t, 403, CodeForbidden, "from")
	sent(t, send(news, "News@example.org"), 202)
	sent(t, send(dom, "anyone@example.org"), 202)
	raw := "From: shop@example.org\r\nSender: boss@example.net\r\nTo: a@remote.example\r\n\r\nx\r\n"
	e.do("POST", "/api/v1/messages", dom, "message/rfc822", strings.NewReader(raw)).wantError(t, 403, CodeForbidden, "from")
	raw = "From: shop@example.net\r\nTo: a@remote.example\r\n\r\nx\r\n"
	e.do("POST", "/api/v1/messages?from=shop@example.org", dom, "message/rfc822", strings.NewReader(raw)).wantError(t, 403, CodeForbidden, "from")
	if n := len(e.queued()); n != 2 {
		t.Errorf("%d messages queued, want the 2 allowed", n)
	}
}

// TestSendErrors: each bad request gets its status, code and field, and
// nothing is sent.
func TestSendErrors(t *testing.T) {
	e := newEnv(t, Options{MaxRequestBytes: 64 << 10, MaxMessageBytes: 32 << 10})
	key := e.key("shop", "example.org")
	for _, c := range []struct {
		name, ctype, body string
		status            int
		code, field       string
	}{
		{"not JSON", "application/json", `{"from": `, 400, CodeInvalidJSON, ""},
		{"syntax", "application/json", `{"from" "x"}`, 400, CodeInvalidJSON, ""},
		{"array", "application/json", `[]`, 400, CodeInvalidJSON, ""},
		{"two values", "application/json", `{"from": "shop@example.org", "to": ["a@b.example"], "text": "x"} {}`, 400, CodeInvalidJSON, ""},
		{"unknown field", "application/json", `{"from": "shop@example.org", "to": ["a@b.example"], "text": "x", "sender": "y"}`, 400, CodeUnknownField, "sender"},
		{"wrong type", "application/json", `{"from": "shop@example.org", "to": ["a@b.example"], "text": 5}`, 400, CodeInvalidJSON, "text"},
		{"missing from", "application/json", `{"to": ["a@b.example"], "text": "x"}`, 400, CodeInvalid, "from"},
		{"no recipient", "application/json", `{"from": "shop@example.org", "text": "x"}`, 400, CodeInvalid, "to"},
		{"bad recipient", "application/json", `{"from": "shop@example.org", "to": ["a@b.example", "not an address"], "text": "x"}`, 400, CodeInvalid, "to[1]"},
		{"no body", "application/json", `{"from": "shop@example.org", "to": ["a@b.example"]}`, 400, CodeInvalid, "text"},
		{"bad base64", "application/json", `{"from": "shop@example.org", "to": ["a@b.example"], "text": "x", "attachments": [{"filename": "a", "content": "!!"}]}`, 400, CodeInvalid, "attachments[0].content"},
		{"unknown local", "application/json", `{"from": "shop@example.org", "to": ["nobody@example.org"], "text": "x"}`, 400, CodeInvalid, "to[0]"},
		{"text/plain", "text/plain", `hello`, 415, CodeUnsupportedType, ""},
		{"no type", "", `{}`, 415, CodeUnsupportedType, ""},
		{"message too large", "application/json", `{"from": "shop@example.org", "to": ["a@b.example"], "text": "` + strings.Repeat("x", 40<<10) + `"}`, 413, CodeTooLarge, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.do("POST", "/api/v1/messages", key, c.ctype, strings.NewReader(c.body)).wantError(t, c.status, c.code, c.field)
		})
	}
	// Oversize without Content-Length (chunked): refused at the limit.
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(`{"from": "shop@example.org", "text": "`))
		pw.Write(bytes.Repeat([]byte("x"), 100<<10))
		pw.Write([]byte(`"}`))
		pw.Close()
	}()
	e.do("POST", "/api/v1/messages", key, "application/json", pr).wantError(t, 413, CodeTooLarge, "")
	e.do("POST", "/api/v1/messages", "", "application/json", strings.NewReader(`{}`)).wantError(t, 401, CodeUnauthorized, "")
	if n := len(e.queued()); n != 0 {
		t.Errorf("%d messages queued by bad requests", n)
	}
}

// TestIdempotency: a retry with the same key and body answers the first
// answer and sends nothing; another body with the key is 422; another API
// key has its own keys; concurrent retries send once.
func TestIdempotency(t *testing.T) {
	e := newEnv(t, Options{})
	key := e.key("shop", "example.org")
	other := e.key("other", "example.org")
	body := `{"from": "shop@example.org", "to": ["a@remote.example"], "text": "once"}`
	post := func(k, idem, body string) response {
		return e.do("POST", "/api/v1/messages", k, "application/json", strings.NewReader(body), "Idempotency-Key", idem)
	}
	first := post(key, "order-42", body)
	v := sent(t, first, 202)
	again := post(key, "order-42", body)
	if again.status != 202 || string(again.body) != string(first.body) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry: %d %s %v, want the first answer", again.status, again.body, again.header)
	}
	post(key, "order-42", strings.Replace(body, "once", "twice", 1)).wantError(t, 422, CodeKeyReused, "Idempotency-Key")
	// The same request written otherwise (key order, spacing, escapes, an
	// address as an object) is the same request.
	reordered := `{ "text":"once",  "to":[{"email":"a@remote.example"}], "from":"shop@example.org" }`
	if again := post(key, "order-42", reordered); again.status != 202 || string(again.body) != string(first.body) {
		t.Errorf("retry with the keys reordered: %d %s, want the first answer", again.status, again.body)
	}
	if v2 := sent(t, post(other, "order-42", body), 202); v2.ID == v.ID {
		t.Error("another API key got the first key's answer")
	}
	post(key, strings.Repeat("k", 256), body).wantError(t, 400, CodeBadRequest, "Idempotency-Key")
	if n := len(e.queued()); n != 2 {
		t.Errorf("%d messages queued, want 2", n)
	}

	// Concurrent requests with one key: one send, every answer the same.
	var wg sync.WaitGroup
	answers := make([]response, 8)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = post(key, "burst", body)
		}()
	}
	wg.Wait()
	ids := map[string]bool{}
	for _, a := range answers {
		if a.status == 409 {
			continue // in progress: the client retries
		}
		ids[sent(t, a, 202).ID] = true
	}
	if len(ids) != 1 {
		t.Errorf("concurrent retries answered %d ids", len(ids))
	}
	if n := len(e.queued()); n != 3 {
		t.Errorf("%d messages queued after a burst of retries, want 3", n)
	}
}

// TestSendSuppressed: a suppressed recipient is not sent and shows as
// suppressed (with an event); when all are, nothing is sent and the
// answer is 200.
func TestSendSuppressed(t *testing.T) {
	e := newEnv(t, Options{})
	key := e.key("shop", "example.org")
	if err := e.st.AddSuppression(t.Context(), store.Suppression{Domain: "example.org", Address: "gone@remote.example", Reason: "hard bounce: 550 5.1.1 no such user"}); err != nil {
		t.Fatal(err)
	}
	v := sent(t, e.do("POST", "/api/v1/messages", key, "application/json",
		strings.NewReader(`{"from": "shop@example.org", "to": ["Gone@remote.example", "ok@remote.example"], "text": "x"}`)), 202)
	if len(v.Recipients) != 2 || v.Recipients[0].Status != "suppressed" || !strings.Contains(v.Recipients[0].Reason, "5.1.1") || v.Recipients[1].Status != "queued" {
		t.Errorf("recipients %+v", v.Recipients)
	}
	if q := e.queued(); len(q) != 1 || strings.Join(q[0].Recipients, " ") != "ok@remote.example" {
		t.Errorf("queued %+v", q)
	}
	v = sent(t, e.do("POST", "/api/v1/messages", key, "application/json",
		strings.NewReader(`{"from": "shop@example.org", "to": ["gone@remote.example"], "text": "x"}`)), 200)
	if len(v.Recipients) != 1 || v.Recipients[0].Status != "suppressed" {
		t.Errorf("all suppressed: %+v", v.Recipients)
	}
	if q := e.queued(); len(q) != 1 {
		t.Errorf("all suppressed queued something: %d", len(q))
	}
	evs, err := e.st.QueryEvents(t.Context(), store.EventFilter{Domain: "example.org", Types: []store.EventType{store.EventSuppressed}})
	if err != nil || len(evs) != 2 {
		t.Errorf("suppressed events %+v, %v", evs, err)
	}
}

// TestIdempotencyExpiry: after IdempotencyTTL the key is free again: the
// same request sends anew, even before the hourly pruning ran.
func TestIdempotencyExpiry(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	e := newEnv(t, Options{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	key := e.key("shop", "example.org")
	body := `{"from": "shop@example.org", "to": ["a@remote.example"], "text": "x"}`
	post := func() sendResponse {
		return sent(t, e.do("POST", "/api/v1/messages", key, "application/json", strings.NewReader(body), "Idempotency-Key", "k"), 202)
	}
	first := post()
	if again := post(); again.ID != first.ID {
		t.Fatalf("retry within the TTL sent anew: %s, %s", first.ID, again.ID)
	}
	mu.Lock()
	now = now.Add(IdempotencyTTL + time.Minute)
	mu.Unlock()
	if later := post(); later.ID == first.ID {
		t.Error("a retry after the TTL got the old answer")
	}
	if n := len(e.queued()); n != 2 {
		t.Errorf("%d messages queued, want 2", n)
	}
}

// TestTraceInFront: trace fields go into the room in front of the message,
// or, when longer than the room, into a copy; the message stays whole
// either way, also on a second call (queue, then local delivery).
func TestTraceInFront(t *testing.T) {
	msg := "Date: x\r\n\r\nbody\r\n"
	full := append(make([]byte, traceRoom), msg...)
	with := traceInFront(full)
	long := strings.Repeat("R", traceRoom+1)
	for _, trace := range []string{"Received: a\r\n", "Return-Path: <a@b>\r\nReceived: a\r\n", long, ""} {
		if got := string(with([]byte(trace))); got != trace+msg {
			t.Errorf("with trace %.20q: %.60q", trace, got)
		}
	}
}

// TestIdempotencyRawRecord: a record written when requests were compared
// byte for byte (its hash over the raw body) still answers a retry with
// the same bytes.
func TestIdempotencyRawRecord(t *testing.T) {
	e := newEnv(t, Options{})
	key := e.key("shop", "example.org")
	keys, err := e.st.APIKeysByPrefix(t.Context(), key[:prefixLen])
	if err != nil || len(keys) != 1 {
		t.Fatalf("key: %v %v", keys, err)
	}
	body := `{"to": ["a@remote.example"], "from": "shop@example.org", "text": "once"}`
	r := httptest.NewRequest("POST", "/api/v1/messages", nil)
	r.Header.Set("Content-Type", "application/json")
	rec := &store.IdempotencyRecord{KeyID: keys[0].ID, Key: "old", RequestHash: requestHash(r, []byte(body)),
		Status: 202, Response: []byte(`{"id":"m_old","recipients":[]}`), Created: time.Now()}
	if _, err := e.st.Enqueue(t.Context(), store.QueuedMessage{From: "shop@example.org", Recipients: []string{"a@remote.example"},
		Body: []byte("Subject: x\r\n\r\nx\r\n"), Idempotency: rec}); err != nil {
		t.Fatal(err)
	}
	got := e.do("POST", "/api/v1/messages", key, "application/json", strings.NewReader(body), "Idempotency-Key", "old")
	if got.status != 202 || !strings.Contains(string(got.body), "m_old") {
		t.Errorf("retry of a raw-hashed request: %d %s, want the stored answer", got.status, got.body)
	}
	e.do("POST", "/api/v1/messages", key, "application/json", strings.NewReader(strings.Replace(body, "once", "twice", 1)),
		"Idempotency-Key", "old").wantError(t, 422, CodeKeyReused, "Idempotency-Key")
}
