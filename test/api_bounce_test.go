package test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/delivery/deliverytest"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
)

// TestAPIBounceSuppression follows one API send through the real queue
// as an application sees it, over the http listener only: a test MTA
// (found by MX in the test's DNS) accepts one recipient, keeps deferring
// another and rejects the third with 550 5.1.1. GET /api/v1/messages/{id}
// reports delivered with the remote reply, deferred with the 451 and a
// next attempt in the future, and bounced with the 550; the bounce is an
// event and puts the address on GET /api/v1/suppressions, so the next
// send to it is answered 200 with nothing sent (202 beside a recipient
// that is not suppressed, which is delivered); after DELETE of the
// suppression the address is sent to again.
func TestAPIBounceSuppression(t *testing.T) {
	n := newOutboundNet(t)
	sink := deliverytest.Start(t, n.sink, n.port, deliverytest.Options{})
	zones := dnstest.Start(t, dnstest.Zone{Origin: "sink.test", Records: "@ MX 10 mx\nmx A " + n.sink})
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	addAccount(t, data, "alice@a.test", "alice-passw0rd") // the sender, gets the DSN
	out, err := runAt(t, nil, data, "apikey create", "app", "a.test")
	if err != nil {
		t.Fatalf("apikey create: %v\n%s", err, out)
	}
	key := regexp.MustCompile(`ph_[0-9a-z]{52}`).FindString(out)

	httpAddr := fmt.Sprintf("%s:%d", n.a, deliverytest.FreePort(t, n.a))
	cfg := serveConfigAt(t, "mail.a.test", data, "http", httpAddr, zones.Addr()) +
		fmt.Sprintf("[delivery]\nport = %d\nsource_address = %q\nretry_min = \"1s\"\nretry_max = \"2s\"\n", n.port, n.a)
	srv := startServe(t, dir, cfg, httpAddr)
	base := "http://" + httpAddr + "/api/v1"

	api := func(method, path, body string, into any) int {
		t.Helper()
		code, b := apiRequest(t, key, method, base+path, body)
		if into != nil && len(b) > 0 {
			if err := json.Unmarshal(b, into); err != nil {
				t.Fatalf("%s %s: %d %s: %v", method, path, code, b, err)
			}
		}
		return code
	}
	type recipient struct {
		Email, Status, Reply, Reason string
		NextAttempt                  time.Time `json:"next_attempt"`
	}
	type sendResult struct {
		ID         string
		Recipients []recipient
	}
	send := func(to ...string) (int, sendResult) {
		t.Helper()
		req, _ := json.Marshal(map[string]any{"from": "alice@a.test", "to": to, "subject": "order", "text": "Thank you.\n"})
		var r sendResult
		code := api("POST", "/messages", string(req), &r)
		return code, r
	}
	byEmail := func(rs []recipient) map[string]recipient {
		m := map[string]recipient{}
		for _, r := range rs {
			m[r.Email] = r
		}
		return m
	}

	sentAt := time.Now()
	code, first := send("ok1@sink.test", "temp1000x@sink.test", "reject1@sink.test")
	if code != 202 || len(first.Recipients) != 3 {
		t.Fatalf("send: %d %+v", code, first)
	}
	for _, r := range first.Recipients {
		if r.Status != "queued" {
			t.Errorf("right after the send %s is %q, want queued", r.Email, r.Status)
		}
	}

	var status struct{ Recipients []recipient }
	waitFor(t, 2*time.Minute, "delivered, deferred and bounced in the status", func() bool {
		if api("GET", "/messages/"+first.ID, "", &status) != 200 {
			return false
		}
		got := byEmail(status.Recipients)
		return got["ok1@sink.test"].Status == "delivered" && got["temp1000x@sink.test"].Status == "deferred" &&
			got["reject1@sink.test"].Status == "bounced"
	}, srv)
	got := byEmail(status.Recipients)
	if r := got["ok1@sink.test"]; !strings.HasPrefix(r.Reply, "250") {
		t.Errorf("delivered without the remote reply: %+v", r)
	}
	if r := got["temp1000x@sink.test"]; !strings.HasPrefix(r.Reply, "451 4.3.0") || !r.NextAttempt.After(sentAt) {
		t.Errorf("deferred without the last error or the next attempt: %+v", r)
	}
	if r := got["reject1@sink.test"]; !strings.HasPrefix(r.Reply, "550 5.1.1") {
		t.Errorf("bounced without the reason: %+v", r)
	}

	var evs struct {
		Events []struct{ Type, Message, Recipient, Reply string }
	}
	if code := api("GET", "/events?type=bounced&message="+first.ID, "", &evs); code != 200 || len(evs.Events) != 1 ||
		evs.Events[0].Recipient != "reject1@sink.test" || !strings.HasPrefix(evs.Events[0].Reply, "550 5.1.1") {
		t.Errorf("bounced events: %d %+v", code, evs)
	}
	var sl struct {
		Suppressions []struct{ Address, Reason string }
	}
	if code := api("GET", "/suppressions", "", &sl); code != 200 || len(sl.Suppressions) != 1 ||
		sl.Suppressions[0].Address != "reject1@sink.test" || !strings.Contains(sl.Suppressions[0].Reason, "5.1.1") {
		t.Fatalf("suppressions after the bounce: %d %+v", code, sl)
	}

	// Suppressed alone: 200, nothing sent.
	code, again := send("Reject1@sink.test")
	if code != 200 || len(again.Recipients) != 1 || again.Recipients[0].Status != "suppressed" || !strings.Contains(again.Recipients[0].Reason, "5.1.1") {
		t.Errorf("send to the bounced address: %d %+v, want 200 suppressed", code, again)
	}
	// Beside another recipient: 202, the other one delivered.
	code, mixed := send("reject1@sink.test", "ok2@sink.test")
	if m := byEmail(mixed.Recipients); code != 202 || m["reject1@sink.test"].Status != "suppressed" || m["ok2@sink.test"].Status != "queued" {
		t.Errorf("send beside the suppressed address: %d %+v", code, mixed)
	}
	waitFor(t, time.Minute, "ok2 delivered", func() bool {
		return api("GET", "/messages/"+mixed.ID, "", &status) == 200 && byEmail(status.Recipients)["ok2@sink.test"].Status == "delivered"
	}, srv)
	if r := byEmail(status.Recipients)["reject1@sink.test"]; r.Status != "suppressed" {
		t.Errorf("the suppressed recipient in the status: %+v", r)
	}
	if code := api("GET", "/events?type=suppressed&recipient="+url.QueryEscape("reject1@sink.test"), "", &evs); code != 200 || len(evs.Events) != 2 {
		t.Errorf("suppressed events: %d %+v, want 2", code, evs)
	}

	// Removed from the list, the address is sent to again.
	if code := api("DELETE", "/suppressions/reject1@sink.test", "", nil); code != 204 {
		t.Errorf("DELETE suppression: %d", code)
	}
	if code, r := send("reject1@sink.test"); code != 202 || r.Recipients[0].Status != "queued" {
		t.Errorf("send after the suppression was removed: %d %+v", code, r)
	}
	// The sink got ok1's and ok2's copies only: the suppressed address was
	// never in a transaction (the sink would have refused it with a 550,
	// and the status would say bounced).
	if msgs := sink.Messages(); len(msgs) != 2 {
		t.Errorf("the sink got %d messages, want 2", len(msgs))
	}
	if code := api("GET", "/events?type=bounced&recipient=reject1%40sink.test&message="+mixed.ID, "", &evs); code != 200 || len(evs.Events) != 0 {
		t.Errorf("the suppressed recipient bounced again: %d %+v", code, evs)
	}
	if err := srv.stop(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM: %v", err)
	}
}
