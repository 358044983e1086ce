package mx

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/compose"
	"github.com/posthorn/posthorn/internal/store"
)

func addRoute(t *testing.T, e *env, domain, pattern string, keep bool) store.WebhookEndpoint {
	t.Helper()
	ep, err := e.st.AddWebhookEndpoint(context.Background(), store.WebhookEndpoint{
		Domain: domain, URL: "http://127.0.0.1:9/" + pattern, Pattern: pattern, Keep: keep, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

// routedEvents returns the events queued for one route endpoint.
func routedEvents(t *testing.T, e *env, ep store.WebhookEndpoint) []store.Event {
	t.Helper()
	ds, err := e.st.WebhookDeliveries(context.Background(), ep.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var evs []store.Event
	for _, d := range ds {
		evs = append(evs, d.Event)
	}
	return evs
}

const routedMsg = "From: Zoë <zoe@remote.test>\r\nTo: hooks+42@example.test\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n" +
	"Message-ID: <r1@remote.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
	"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello app.\r\n" +
	"--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"data.bin\"\r\n" +
	"Content-Transfer-Encoding: base64\r\n\r\nAAEC/wA=\r\n--b--\r\n"

func TestInboundRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{routes: true})
	hooks := addRoute(t, e, "example.test", "hooks+*@example.test", false)
	keep := addRoute(t, e, "example.test", "alice@example.test", true)
	other := addRoute(t, e, "other.test", "*@other.test", false)

	// hooks+42 has no account (the route accepts it), alice is kept and
	// posted, bob is plain delivery, x@other.test is a catch-all address
	// the route takes instead of storing.
	c := dialClient(t, e)
	send(t, c, "bounce@remote.test", []string{"hooks+42@example.test", "alice@example.test", "bob@example.test", "x@other.test"}, routedMsg, nil)

	if got := len(e.inbox("alice@example.test")); got != 1 {
		t.Errorf("alice (route with keep) has %d messages, want 1", got)
	}
	if got := len(e.inbox("bob@example.test")); got != 1 {
		t.Errorf("bob has %d messages, want 1 (x@other.test is routed, not stored)", got)
	}

	for _, tc := range []struct {
		ep   store.WebhookEndpoint
		rcpt string
	}{{hooks, "hooks+42@example.test"}, {keep, "alice@example.test"}, {other, "x@other.test"}} {
		evs := routedEvents(t, e, tc.ep)
		if len(evs) != 1 {
			t.Fatalf("route %s: %d events, want 1", tc.ep.Pattern, len(evs))
		}
		ev := evs[0]
		if ev.Type != store.EventInbound || ev.Recipient != tc.rcpt || ev.Domain != tc.rcpt[strings.IndexByte(tc.rcpt, '@')+1:] || !strings.HasPrefix(ev.Message, "m_") {
			t.Errorf("route %s: event %+v", tc.ep.Pattern, ev)
		}
		var p struct {
			Route    string
			Envelope compose.Envelope
			Message  compose.Inbound
		}
		if err := json.Unmarshal(ev.Data, &p); err != nil {
			t.Fatal(err)
		}
		if p.Route != tc.ep.Pattern || p.Envelope.MailFrom != "bounce@remote.test" || p.Envelope.RcptTo != tc.rcpt || p.Envelope.Helo != "client.test" || p.Envelope.RemoteIP != "127.0.0.1" {
			t.Errorf("route %s: envelope %+v route %q", tc.ep.Pattern, p.Envelope, p.Route)
		}
		m := p.Message
		if m.Subject != "Grüße" || m.MessageID != "r1@remote.test" || len(m.From) != 1 || m.From[0].Name != "Zoë" || m.Text != "Hello app." {
			t.Errorf("route %s: message %+v", tc.ep.Pattern, m)
		}
		if len(m.Attachments) != 1 || m.Attachments[0].Filename != "data.bin" || m.Attachments[0].Size != 5 {
			t.Fatalf("route %s: attachments %+v", tc.ep.Pattern, m.Attachments)
		}
		if b, _ := base64.StdEncoding.DecodeString(m.Attachments[0].Content); !bytes.Equal(b, []byte{0, 1, 2, 0xff, 0}) {
			t.Errorf("attachment bytes %x", b)
		}
		// The trace headers we added are part of the parsed header.
		if len(m.Headers) == 0 || m.Headers[0].Name != "Return-Path" {
			t.Errorf("headers start %+v", m.Headers[:min(2, len(m.Headers))])
		}
	}
	// No subscribed endpoint exists: the route events went only to their
	// route endpoints.
	all, err := e.st.WebhookEndpoints(context.Background(), "")
	if err != nil || len(all) != 3 {
		t.Fatalf("endpoints %d %v", len(all), err)
	}

	// A routed-only transaction stores nothing and still answers 250.
	// A recipient named twice (in any case) is posted once.
	send(t, c, "", []string{"hooks+43@example.test", "HOOKS+43@example.test"}, "Subject: only\r\n\r\nx\r\n", nil)
	if evs := routedEvents(t, e, hooks); len(evs) != 2 {
		t.Errorf("hooks route has %d events after the second message, want 2", len(evs))
	}

	// Addresses the routes do not cover are still unknown.
	if err := c.Mail("a@remote.test", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("hooks@example.test", nil); err == nil || !strings.Contains(err.Error(), "550") {
		t.Errorf("RCPT hooks@ (no route, no account) = %v, want 550 5.1.1", err)
	}
	c.Reset()
}

func TestDisabledRouteRefuses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{routes: true})
	ep := addRoute(t, e, "example.test", "app@example.test", false)
	if err := e.st.SetWebhookEnabled(context.Background(), ep.ID, false); err != nil {
		t.Fatal(err)
	}
	c := dialClient(t, e)
	if err := c.Mail("a@remote.test", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("app@example.test", nil); err == nil || !strings.Contains(err.Error(), "550") {
		t.Errorf("RCPT to a disabled route = %v, want 550 5.1.1", err)
	}
}
