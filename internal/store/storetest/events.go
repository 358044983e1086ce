package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// Message tracking: events written with the change that causes them,
// the suppression list, webhook endpoints and the delivery outbox.

// events lists a domain's events (oldest first) as "type recipient" lines.
func (f *fixture) events(domain string) []store.Event {
	f.t.Helper()
	evs, err := f.s.QueryEvents(f.ctx, store.EventFilter{Domain: domain, Limit: 1000})
	if err != nil {
		f.t.Fatalf("QueryEvents(%q): %v", domain, err)
	}
	return evs
}

func eventLines(evs []store.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, string(e.Type)+" "+e.Recipient)
	}
	return out
}

func (f *fixture) endpoint(e store.WebhookEndpoint) store.WebhookEndpoint {
	f.t.Helper()
	got, err := f.s.AddWebhookEndpoint(f.ctx, e)
	if err != nil {
		f.t.Fatalf("AddWebhookEndpoint(%+v): %v", e, err)
	}
	return got
}

// claimAll claims every due webhook delivery at now.
func (f *fixture) claimAll(now time.Time) []store.WebhookDelivery {
	f.t.Helper()
	ds, err := f.s.ClaimWebhookDeliveries(f.ctx, now, time.Minute, 100)
	if err != nil {
		f.t.Fatalf("ClaimWebhookDeliveries: %v", err)
	}
	return ds
}

func testEventsEnqueue(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	f.domain("example.org")
	tid := store.NewTrackingID()
	if !strings.HasPrefix(tid, "m_") || len(tid) != 28 || tid == store.NewTrackingID() {
		t.Errorf("NewTrackingID = %q (a second one equal?)", tid)
	}
	data := []byte(`{"tags":["welcome"]}`)
	id, err := s.Enqueue(ctx, store.QueuedMessage{From: "a@example.org", Recipients: []string{"x@remote.test", "Y@remote.test"}, Body: []byte("b"),
		TrackingID: tid, Domain: "example.org", EventData: data,
		Events: []store.Event{{Type: store.EventSuppressed, Domain: "example.org", Message: tid, Recipient: "z@remote.test", Reply: "suppressed"}}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.QueuedMessage(ctx, id)
	if err != nil || m.TrackingID != tid || m.Domain != "example.org" || string(m.EventData) != string(data) {
		t.Errorf("QueuedMessage = %+v, %v; want tracking id, domain and event data back", m, err)
	}
	evs := f.events("example.org")
	if got, want := eventLines(evs), []string{"queued x@remote.test", "queued Y@remote.test", "suppressed z@remote.test"}; !slices.Equal(got, want) {
		t.Fatalf("events = %q, want %q", got, want)
	}
	for i, e := range evs {
		if !strings.HasPrefix(e.ID, "ev_") || e.Message != tid || e.Domain != "example.org" || e.Time.IsZero() {
			t.Errorf("event %d = %+v", i, e)
		}
		if i > 0 && (e.Seq <= evs[i-1].Seq || e.ID == evs[i-1].ID) {
			t.Errorf("event %d: Seq %d after %d, ID %q after %q", i, e.Seq, evs[i-1].Seq, e.ID, evs[i-1].ID)
		}
	}
	if string(evs[0].Data) != string(data) {
		t.Errorf("queued event data = %s, want %s", evs[0].Data, data)
	}

	// The same tracking id again, a tracking id without a domain.
	_, err = s.Enqueue(ctx, store.QueuedMessage{From: "a@example.org", Recipients: []string{"x@remote.test"}, Body: []byte("b"), TrackingID: tid, Domain: "example.org"})
	wantErr(t, "Enqueue with a queued tracking id", err, store.ErrExists)
	_, err = s.Enqueue(ctx, store.QueuedMessage{From: "a@example.org", Recipients: []string{"x@remote.test"}, Body: []byte("b"), TrackingID: store.NewTrackingID()})
	wantErr(t, "Enqueue with a tracking id but no domain", err, store.ErrInvalid)
	// Untracked mail (bounces) writes no event.
	if _, err := s.Enqueue(ctx, store.QueuedMessage{Recipients: []string{"x@remote.test"}, Body: []byte("b"), Domain: "example.org"}); err != nil {
		t.Fatal(err)
	}
	if n := len(f.events("example.org")); n != 3 {
		t.Errorf("%d events after the failed and untracked Enqueues, want still 3", n)
	}
	// An event with a bad type or no domain fails the whole Enqueue.
	_, err = s.Enqueue(ctx, store.QueuedMessage{From: "a@example.org", Recipients: []string{"x@remote.test"}, Body: []byte("b"),
		TrackingID: store.NewTrackingID(), Domain: "example.org", Events: []store.Event{{Type: "nonsense", Domain: "example.org"}}})
	wantErr(t, "Enqueue with an invalid event", err, store.ErrInvalid)
	if n := len(f.events("example.org")); n != 3 {
		t.Errorf("%d events after an Enqueue that failed, want still 3 (no event without its change)", n)
	}
	if all, _ := s.QueuedMessages(ctx, 0); len(all) != 2 {
		t.Errorf("%d queued messages, want 2", len(all))
	}

	st, err := s.MessageStatus(ctx, "example.org", tid, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Recipients) != 3 || st.Recipients[0].Status != store.EventQueued || st.Recipients[2].Status != store.EventSuppressed || st.Queued.IsZero() {
		t.Errorf("MessageStatus = %+v", st)
	}
	_, err = s.MessageStatus(ctx, "other.test", tid, "")
	wantErr(t, "MessageStatus of another domain", err, store.ErrNotFound)
	_, err = s.MessageStatus(ctx, "example.org", "m_unknown", "")
	wantErr(t, "MessageStatus of an unknown id", err, store.ErrNotFound)
}

func testEventsFinishAttempt(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	f.domain("example.org")
	tid := store.NewTrackingID()
	rcpts := []string{"ok@remote.test", "gone@remote.test", "later@remote.test", "policy@remote.test"}
	id, err := s.Enqueue(ctx, store.QueuedMessage{From: "a@example.org", Recipients: rcpts, Body: []byte("b"),
		TrackingID: tid, Domain: "example.org", EventData: []byte(`{"k":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claimed, err := s.ClaimQueued(ctx, now, time.Minute, 1, "node-a")
	if err != nil || len(claimed) != 1 {
		t.Fatalf("ClaimQueued = %v, %v", claimed, err)
	}
	next := now.Add(5 * time.Minute).Truncate(time.Second)
	results := []store.RecipientStatus{
		{Address: "ok@remote.test", State: store.RecipientDelivered, Reply: "250 2.0.0 queued as 1"},
		{Address: "gone@remote.test", State: store.RecipientFailed, Reply: "550 5.1.1 no such user"},
		{Address: "later@remote.test", State: store.RecipientPending, Reply: "451 4.3.0 try later"},
		{Address: "policy@remote.test", State: store.RecipientFailed, Reply: "550 5.7.1 spam"},
	}
	// A lost lease writes nothing: no events without the change.
	err = s.FinishAttempt(ctx, store.Attempt{ID: id, Lease: claimed[0].Lease + 1, Results: results, NextAttempt: next})
	wantErr(t, "FinishAttempt with a wrong lease", err, store.ErrLeaseLost)
	if n := len(f.events("example.org")); n != 4 {
		t.Fatalf("%d events after a lost lease, want the 4 queued ones", n)
	}
	if sup, _ := s.Suppressions(ctx, "example.org", "", 0); len(sup) != 0 {
		t.Fatalf("suppressions after a lost lease: %+v", sup)
	}
	if err := s.FinishAttempt(ctx, store.Attempt{ID: id, Lease: claimed[0].Lease, Results: results, NextAttempt: next, LastError: "451 4.3.0 try later"}); err != nil {
		t.Fatal(err)
	}
	evs := f.events("example.org")[4:]
	want := []string{"delivered ok@remote.test", "bounced gone@remote.test", "deferred later@remote.test", "bounced policy@remote.test"}
	if got := eventLines(evs); !slices.Equal(got, want) {
		t.Fatalf("events after the attempt = %q, want %q", got, want)
	}
	if evs[0].Reply != "250 2.0.0 queued as 1" || evs[1].Reply != "550 5.1.1 no such user" || !evs[2].NextAttempt.Equal(next) || string(evs[0].Data) != `{"k":1}` {
		t.Errorf("events = %+v", evs)
	}
	// The hard bounce (5.1.1) is suppressed, the policy rejection (5.7.1) not.
	sup, err := s.Suppressions(ctx, "example.org", "", 0)
	if err != nil || len(sup) != 1 || sup[0].Address != "gone@remote.test" || sup[0].EventID != evs[1].ID || !strings.Contains(sup[0].Reason, "5.1.1") {
		t.Fatalf("Suppressions = %+v, %v; want gone@remote.test from event %s", sup, err, evs[1].ID)
	}
	st, err := s.MessageStatus(ctx, "example.org", tid, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range st.Recipients {
		got = append(got, string(r.Status)+" "+r.Recipient)
	}
	if !slices.Equal(got, want) || st.Recipients[0].Reply != "250 2.0.0 queued as 1" || !st.Recipients[2].NextAttempt.Equal(next) {
		t.Errorf("MessageStatus = %+v, want %q", st, want)
	}

	// The next attempt reports only the recipient that was pending; a
	// result for a finished recipient is ignored.
	claimed, err = s.ClaimQueued(ctx, next, time.Minute, 1, "node-a")
	if err != nil || len(claimed) != 1 {
		t.Fatalf("ClaimQueued = %v, %v", claimed, err)
	}
	err = s.FinishAttempt(ctx, store.Attempt{ID: id, Lease: claimed[0].Lease, NextAttempt: next.Add(time.Hour), Results: []store.RecipientStatus{
		{Address: "later@remote.test", State: store.RecipientDelivered, Reply: "250 ok"},
		{Address: "ok@remote.test", State: store.RecipientFailed, Reply: "550 5.1.1 late"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := eventLines(f.events("example.org")[8:]); !slices.Equal(got, []string{"delivered later@remote.test"}) {
		t.Errorf("events of the second attempt = %q", got)
	}
	if _, err := s.QueuedMessage(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("message still queued after its last recipient: %v", err)
	}
	if sup, _ := s.Suppressed(ctx, "example.org", []string{"ok@remote.test"}); len(sup) != 0 {
		t.Errorf("a result for a finished recipient suppressed it: %+v", sup)
	}
}

// testEventsRemoveQueued: a tracked message removed from the queue (queue
// delete) gets a bounced event for each recipient still pending, in the
// same commit, so its status does not stay queued; nothing is suppressed.
func testEventsRemoveQueued(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	f.domain("example.org")
	tid := store.NewTrackingID()
	id, err := s.Enqueue(ctx, store.QueuedMessage{From: "a@example.org", Recipients: []string{"done@remote.test", "wait@remote.test"},
		Body: []byte("b"), TrackingID: tid, Domain: "example.org"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claimed, err := s.ClaimQueued(ctx, now, time.Minute, 1, "node-a")
	if err != nil || len(claimed) != 1 {
		t.Fatalf("ClaimQueued = %v, %v", claimed, err)
	}
	if err := s.FinishAttempt(ctx, store.Attempt{ID: id, Lease: claimed[0].Lease, NextAttempt: now.Add(time.Hour), Results: []store.RecipientStatus{
		{Address: "done@remote.test", State: store.RecipientDelivered, Reply: "250 ok"},
		{Address: "wait@remote.test", State: store.RecipientPending, Reply: "451 later"},
	}}); err != nil {
		t.Fatal(err)
	}
	before := len(f.events("example.org"))
	if err := s.RemoveQueued(ctx, id); err != nil {
		t.Fatal(err)
	}
	evs := f.events("example.org")[before:]
	if got := eventLines(evs); !slices.Equal(got, []string{"bounced wait@remote.test"}) || evs[0].Reply != store.RemovedReply {
		t.Fatalf("events of RemoveQueued = %q (%+v), want one bounced for the pending recipient", got, evs)
	}
	st, err := s.MessageStatus(ctx, "example.org", tid, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range st.Recipients {
		got = append(got, string(r.Status)+" "+r.Recipient)
	}
	if !slices.Equal(got, []string{"delivered done@remote.test", "bounced wait@remote.test"}) {
		t.Errorf("MessageStatus after RemoveQueued = %q", got)
	}
	if sup, _ := s.Suppressions(ctx, "example.org", "", 0); len(sup) != 0 {
		t.Errorf("RemoveQueued suppressed: %+v", sup)
	}
	wantErr(t, "RemoveQueued twice", s.RemoveQueued(ctx, id), store.ErrNotFound)
	if n := len(f.events("example.org")); n != before+1 {
		t.Errorf("%d events after a failed RemoveQueued, want %d", n, before+1)
	}
}

func testHardBounce(t *testing.T, _ *fixture) {
	for reply, want := range map[string]bool{
		"550 5.1.1 no such user":           true,
		"550 5.1.2 no such domain":         true,
		"556 5.1.10 null MX":               true,
		"550 5.2.1 mailbox disabled":       true,
		"552 5.2.2 mailbox full":           false,
		"550 5.7.1 spam":                   false,
		"554 5.7.26 DMARC":                 false,
		"550 user unknown":                 false,
		"450 4.1.1 try later":              false,
		"451 4.2.1 busy":                   false,
		"550 5.1. truncated":               false,
		"":                                 false,
		"554 5.6.3 8-bit needs 8BITMIME":   false,
		"550 5.4.4 unable to route":        false,
		"553 5.1.3 bad destination syntax": true,
	} {
		if got := store.HardBounce(reply); got != want {
			t.Errorf("HardBounce(%q) = %v, want %v", reply, got, want)
		}
	}
}

func testSuppressions(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	f.domain("example.org")
	f.domain("other.test")
	err := s.AddSuppression(ctx, store.Suppression{Domain: "nowhere.test", Address: "a@x.test"})
	wantErr(t, "AddSuppression for an unknown domain", err, store.ErrUnknownDomain)
	wantErr(t, "AddSuppression of a bad address", s.AddSuppression(ctx, store.Suppression{Domain: "example.org", Address: "no-at"}), store.ErrInvalid)
	for _, a := range []string{"B@x.test", "a@x.test", "c@x.test"} {
		if err := s.AddSuppression(ctx, store.Suppression{Domain: "example.org", Address: a}); err != nil {
			t.Fatal(err)
		}
	}
	wantErr(t, "AddSuppression twice", s.AddSuppression(ctx, store.Suppression{Domain: "example.org", Address: "A@x.test"}), store.ErrExists)
	list, err := s.Suppressions(ctx, "example.org", "", 0)
	if err != nil || len(list) != 3 || list[0].Address != "a@x.test" || list[1].Address != "b@x.test" || list[0].Reason == "" || list[0].Created.IsZero() {
		t.Fatalf("Suppressions = %+v, %v", list, err)
	}
	if page, _ := s.Suppressions(ctx, "example.org", "a@x.test", 1); len(page) != 1 || page[0].Address != "b@x.test" {
		t.Errorf("Suppressions after a@x.test, limit 1 = %+v", page)
	}
	if other, _ := s.Suppressions(ctx, "other.test", "", 0); len(other) != 0 {
		t.Errorf("another domain's list = %+v", other)
	}
	got, err := s.Suppressed(ctx, "example.org", []string{"C@X.test", "d@x.test", "b@x.test"})
	if err != nil || len(got) != 2 || got[0].Address != "c@x.test" || got[1].Address != "b@x.test" {
		t.Errorf("Suppressed = %+v, %v", got, err)
	}
	if got, _ := s.Suppressed(ctx, "other.test", []string{"b@x.test"}); len(got) != 0 {
		t.Errorf("Suppressed in another domain = %+v", got)
	}
	if err := s.RemoveSuppression(ctx, "example.org", "B@x.test"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "RemoveSuppression twice", s.RemoveSuppression(ctx, "example.org", "b@x.test"), store.ErrNotFound)
	if got, _ := s.Suppressed(ctx, "example.org", []string{"b@x.test"}); len(got) != 0 {
		t.Errorf("Suppressed after removal = %+v", got)
	}
}

func testWebhookEndpoints(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	f.domain("example.org")
	f.domain("other.test")
	_, err := s.AddWebhookEndpoint(ctx, store.WebhookEndpoint{Domain: "nowhere.test", URL: "https://app.test/hook", Enabled: true})
	wantErr(t, "endpoint of an unknown domain", err, store.ErrUnknownDomain)
	for _, u := range []string{"", "ftp://app.test/", "/relative", "http://"} {
		_, err := s.AddWebhookEndpoint(ctx, store.WebhookEndpoint{Domain: "example.org", URL: u, Enabled: true})
		wantErr(t, fmt.Sprintf("endpoint URL %q", u), err, store.ErrInvalid)
	}
	_, err = s.AddWebhookEndpoint(ctx, store.WebhookEndpoint{Domain: "example.org", URL: "https://app.test/", Types: []store.EventType{"opened"}})
	wantErr(t, "endpoint with an unknown type", err, store.ErrInvalid)

	all := f.endpoint(store.WebhookEndpoint{Domain: "example.org", URL: "http://127.0.0.1:9/all", Enabled: true})
	if all.ID == 0 || !strings.HasPrefix(all.Secret, "whsec_") || len(all.Secret) < 40 || all.Created.IsZero() {
		t.Errorf("added endpoint = %+v, want an ID, a generated secret and a time", all)
	}
	bounces := f.endpoint(store.WebhookEndpoint{Domain: "example.org", URL: "https://app.test/bounces", Secret: "given", Enabled: true,
		Types: []store.EventType{store.EventBounced, store.EventInbound}})
	if bounces.Secret != "given" {
		t.Errorf("given secret replaced by %q", bounces.Secret)
	}
	route := f.endpoint(store.WebhookEndpoint{Domain: "example.org", URL: "https://app.test/route", Enabled: true, Pattern: "support@example.org", Keep: true})
	off := f.endpoint(store.WebhookEndpoint{Domain: "example.org", URL: "https://app.test/off"})
	otherEp := f.endpoint(store.WebhookEndpoint{Domain: "other.test", URL: "https://app.test/other", Enabled: true})

	list, err := s.WebhookEndpoints(ctx, "example.org")
	if err != nil || len(list) != 4 || list[1].ID != bounces.ID || !slices.Equal(list[1].Types, bounces.Types) || list[2].Pattern != "support@example.org" || !list[2].Keep || list[3].Enabled {
		t.Fatalf("WebhookEndpoints = %+v, %v", list, err)
	}
	if every, _ := s.WebhookEndpoints(ctx, ""); len(every) != 5 {
		t.Errorf("WebhookEndpoints(\"\") = %d endpoints, want 5", len(every))
	}
	if got, err := s.WebhookEndpoint(ctx, all.ID); err != nil || got.Secret != all.Secret || got.URL != all.URL {
		t.Errorf("WebhookEndpoint = %+v, %v", got, err)
	}
	_, err = s.WebhookEndpoint(ctx, 9999)
	wantErr(t, "unknown endpoint", err, store.ErrNotFound)

	for _, c := range []struct {
		domain string
		t      store.EventType
		want   bool
	}{
		{"example.org", store.EventInbound, true}, {"EXAMPLE.org", store.EventQueued, true},
		{"other.test", store.EventBounced, true}, {"third.test", store.EventBounced, false},
	} {
		if got, err := s.WebhookSubscribed(ctx, c.domain, c.t); err != nil || got != c.want {
			t.Errorf("WebhookSubscribed(%s, %s) = %v, %v; want %v", c.domain, c.t, got, err, c.want)
		}
	}

	// An event goes to each enabled, matching endpoint of its domain; a
	// targeted event only to its route.
	evs, err := s.RecordEvents(ctx, []store.Event{
		{Type: store.EventDelivered, Domain: "example.org", Message: "m_1", Recipient: "r@x.test"},
		{Type: store.EventBounced, Domain: "example.org", Message: "m_1", Recipient: "s@x.test"},
		{Type: store.EventInbound, Domain: "example.org", Endpoint: route.ID, Data: json.RawMessage(`{"subject":"hi"}`)},
	})
	if err != nil || len(evs) != 3 || evs[0].ID == "" || evs[0].Seq == 0 {
		t.Fatalf("RecordEvents = %+v, %v", evs, err)
	}
	_, err = s.RecordEvents(ctx, []store.Event{{Type: store.EventDelivered}})
	wantErr(t, "RecordEvents without a domain", err, store.ErrInvalid)
	ds := f.claimAll(time.Now().Add(time.Second))
	got := map[string]bool{}
	for _, d := range ds {
		got[fmt.Sprintf("%s %s", d.URL, d.Event.Type)] = true
		if d.Lease == 0 || d.Secret == "" || d.Event.ID == "" {
			t.Errorf("claimed delivery = %+v", d)
		}
		if d.Event.Type == store.EventInbound && string(d.Event.Data) != `{"subject":"hi"}` {
			t.Errorf("route delivery data = %s", d.Event.Data)
		}
	}
	want := map[string]bool{
		"http://127.0.0.1:9/all delivered": true, "http://127.0.0.1:9/all bounced": true,
		"https://app.test/bounces bounced": true, "https://app.test/route inbound": true,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("deliveries = %v, want %v", got, want)
	}
	_, _ = off, otherEp // never receive: disabled, another domain

	// Disabled: no new deliveries, and pending ones are not claimed.
	if err := s.SetWebhookEnabled(ctx, all.ID, false); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "SetWebhookEnabled of an unknown endpoint", s.SetWebhookEnabled(ctx, 9999, true), store.ErrNotFound)
	if ok, _ := s.WebhookSubscribed(ctx, "example.org", store.EventDelivered); ok {
		t.Error("WebhookSubscribed(delivered) still true with its only endpoint disabled")
	}
	if _, err := s.RecordEvents(ctx, []store.Event{{Type: store.EventDelivered, Domain: "example.org"}}); err != nil {
		t.Fatal(err)
	}
	// The first claim's leases run out after a minute: the enabled
	// endpoints' deliveries come back, the disabled one's do not.
	again := f.claimAll(time.Now().Add(2 * time.Minute))
	if len(again) != 2 {
		t.Errorf("claimed %d deliveries with one endpoint disabled, want 2", len(again))
	}
	for _, d := range again {
		if d.EndpointID == all.ID {
			t.Errorf("a disabled endpoint's delivery was claimed: %+v", d)
		}
	}
	if err := s.RemoveWebhookEndpoint(ctx, all.ID); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "RemoveWebhookEndpoint twice", s.RemoveWebhookEndpoint(ctx, all.ID), store.ErrNotFound)
	if hist, err := s.WebhookDeliveries(ctx, all.ID, 0); err != nil || len(hist) != 0 {
		t.Errorf("deliveries of a removed endpoint = %+v, %v", hist, err)
	}
}

func testWebhookDeliveries(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	f.domain("example.org")
	ep := f.endpoint(store.WebhookEndpoint{Domain: "example.org", URL: "https://app.test/h", Enabled: true})
	if _, err := s.RecordEvents(ctx, []store.Event{{Type: store.EventDelivered, Domain: "example.org", Recipient: "a@x.test"}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(time.Second)
	ds := f.claimAll(now)
	if len(ds) != 1 {
		t.Fatalf("claimed %d deliveries, want 1", len(ds))
	}
	d := ds[0]
	if again := f.claimAll(now.Add(30 * time.Second)); len(again) != 0 {
		t.Errorf("claimed again during the lease: %+v", again)
	}
	retry := now.Add(10 * time.Minute)
	err := s.FinishWebhookDelivery(ctx, store.WebhookResult{ID: d.ID, Lease: d.Lease + 1, State: store.WebhookPending, NextAttempt: retry})
	wantErr(t, "FinishWebhookDelivery with a wrong lease", err, store.ErrLeaseLost)
	if err := s.FinishWebhookDelivery(ctx, store.WebhookResult{ID: d.ID, Lease: d.Lease, State: store.WebhookPending, NextAttempt: retry, LastError: "HTTP 500"}); err != nil {
		t.Fatal(err)
	}
	if early := f.claimAll(retry.Add(-time.Second)); len(early) != 0 {
		t.Errorf("claimed before its retry time: %+v", early)
	}
	ds = f.claimAll(retry)
	if len(ds) != 1 || ds[0].Attempts != 1 || ds[0].LastError != "HTTP 500" || ds[0].Lease == d.Lease {
		t.Fatalf("claimed after the retry time = %+v", ds)
	}
	// An expired lease is claimed again; the old one is lost.
	d2 := f.claimAll(retry.Add(2 * time.Minute))
	if len(d2) != 1 {
		t.Fatalf("claim after the lease expired = %+v", d2)
	}
	wantErr(t, "finish with an expired lease", s.FinishWebhookDelivery(ctx, store.WebhookResult{ID: d.ID, Lease: ds[0].Lease, State: store.WebhookDelivered}), store.ErrLeaseLost)
	if err := s.FinishWebhookDelivery(ctx, store.WebhookResult{ID: d.ID, Lease: d2[0].Lease, State: store.WebhookDelivered}); err != nil {
		t.Fatal(err)
	}
	if left := f.claimAll(retry.Add(time.Hour)); len(left) != 0 {
		t.Errorf("a delivered delivery claimed again: %+v", left)
	}
	hist, err := s.WebhookDeliveries(ctx, ep.ID, 0)
	if err != nil || len(hist) != 1 || hist[0].State != store.WebhookDelivered || hist[0].Attempts != 3-1 || hist[0].Finished.IsZero() || hist[0].Event.Recipient != "a@x.test" {
		t.Errorf("WebhookDeliveries = %+v, %v", hist, err)
	}
	wantErr(t, "finish a finished delivery", s.FinishWebhookDelivery(ctx, store.WebhookResult{ID: d.ID, Lease: d2[0].Lease, State: store.WebhookDelivered}), store.ErrLeaseLost)
}

func testEventsDeliverAndPrune(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	a := f.account("u@example.org")
	if err := s.SetQuota(ctx, "u@example.org", 10); err != nil {
		t.Fatal(err)
	}
	ep := f.endpoint(store.WebhookEndpoint{Domain: "example.org", URL: "https://app.test/h", Enabled: true})
	inbound := store.Event{Type: store.EventInbound, Domain: "example.org", Data: json.RawMessage(`{"from":"x@remote.test"}`)}
	// Over quota: nothing stored, so no event either.
	_, err := s.Deliver(ctx, store.Delivery{Body: []byte("a body longer than ten bytes"), Targets: []store.Target{{AccountID: a.ID}}, Events: []store.Event{inbound}})
	wantErr(t, "Deliver over quota", err, store.ErrOverQuota)
	if evs := f.events("example.org"); len(evs) != 0 {
		t.Fatalf("events after a failed Deliver: %+v", evs)
	}
	f.deliver(store.Delivery{Body: []byte("short"), Targets: []store.Target{{AccountID: a.ID}}, Events: []store.Event{inbound}})
	evs := f.events("example.org")
	if len(evs) != 1 || evs[0].Type != store.EventInbound || string(evs[0].Data) != `{"from":"x@remote.test"}` {
		t.Fatalf("events after Deliver = %+v", evs)
	}

	// Filters and paging.
	old := time.Now().Add(-48 * time.Hour)
	if _, err := s.RecordEvents(ctx, []store.Event{
		{Type: store.EventDelivered, Domain: "example.org", Message: "m_a", Recipient: "r1@x.test", Time: old},
		{Type: store.EventBounced, Domain: "example.org", Message: "m_a", Recipient: "r2@x.test"},
		{Type: store.EventDelivered, Domain: "example.org", Message: "m_b", Recipient: "R1@x.test"},
		{Type: store.EventDelivered, Domain: "other.test", Message: "m_c", Recipient: "r1@x.test"},
	}); err != nil {
		t.Fatal(err)
	}
	q := func(f2 store.EventFilter) []string {
		t.Helper()
		f2.Domain = "example.org"
		evs, err := s.QueryEvents(ctx, f2)
		if err != nil {
			t.Fatalf("QueryEvents(%+v): %v", f2, err)
		}
		var out []string
		for _, e := range evs {
			out = append(out, e.Message+" "+string(e.Type))
		}
		return out
	}
	for _, c := range []struct {
		f    store.EventFilter
		want []string
	}{
		{store.EventFilter{Types: []store.EventType{store.EventDelivered}}, []string{"m_a delivered", "m_b delivered"}},
		{store.EventFilter{Message: "m_a"}, []string{"m_a delivered", "m_a bounced"}},
		{store.EventFilter{Recipient: "r1@X.TEST"}, []string{"m_a delivered", "m_b delivered"}},
		{store.EventFilter{Since: time.Now().Add(-time.Hour), Types: []store.EventType{store.EventDelivered, store.EventBounced}}, []string{"m_a bounced", "m_b delivered"}},
		{store.EventFilter{Until: time.Now().Add(-time.Hour)}, []string{"m_a delivered"}},
		{store.EventFilter{Newest: true, Limit: 2}, []string{"m_b delivered", "m_a bounced"}},
		{store.EventFilter{Limit: 2}, []string{" inbound", "m_a delivered"}},
	} {
		if got := q(c.f); !slices.Equal(got, c.want) {
			t.Errorf("QueryEvents(%+v) = %q, want %q", c.f, got, c.want)
		}
	}
	all := f.events("example.org")
	if got := q(store.EventFilter{After: all[1].Seq}); !slices.Equal(got, []string{"m_a bounced", "m_b delivered"}) {
		t.Errorf("after the second event = %q", got)
	}
	if got := q(store.EventFilter{After: all[2].Seq, Newest: true}); !slices.Equal(got, []string{"m_a delivered", " inbound"}) {
		t.Errorf("newest before the third event = %q", got)
	}
	_, err = s.QueryEvents(ctx, store.EventFilter{})
	wantErr(t, "QueryEvents without a domain", err, store.ErrInvalid)

	// Prune: old events go, unless a pending delivery still needs them;
	// finished deliveries go with them.
	ds := f.claimAll(time.Now().Add(time.Second))
	var oldDelivery store.WebhookDelivery
	for _, d := range ds {
		if d.Event.Message == "m_a" && d.Event.Type == store.EventDelivered {
			oldDelivery = d
		}
	}
	if oldDelivery.ID == 0 {
		t.Fatalf("no delivery for the old event among %+v", ds)
	}
	n, err := s.PruneEvents(ctx, time.Now().Add(-time.Hour))
	if err != nil || n != 0 {
		t.Errorf("PruneEvents with the old event's delivery pending = %d, %v; want 0", n, err)
	}
	if err := s.FinishWebhookDelivery(ctx, store.WebhookResult{ID: oldDelivery.ID, Lease: oldDelivery.Lease, State: store.WebhookFailed, LastError: "gave up"}); err != nil {
		t.Fatal(err)
	}
	n, err = s.PruneEvents(ctx, time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	// Everything finished before now+1m goes: the old event and its
	// delivery; events with pending deliveries stay.
	if n != 2 {
		t.Errorf("PruneEvents removed %d events, want 2 (the old one, and other.test's without deliveries)", n)
	}
	hist, _ := s.WebhookDeliveries(ctx, ep.ID, 0)
	for _, d := range hist {
		if d.ID == oldDelivery.ID {
			t.Errorf("finished delivery not pruned: %+v", d)
		}
	}
	if got := q(store.EventFilter{Message: "m_a"}); !slices.Equal(got, []string{"m_a bounced"}) {
		t.Errorf("events of m_a after pruning = %q", got)
	}
}
