package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/postgres/pgtest"
)

// TestTextPostgresCannotHold: a remote server's reply in Latin-1 with a
// NUL (PostgreSQL text holds neither) is recorded with U+FFFD instead of
// failing the attempt, which would leave the message to be delivered
// again and again; the same for the events, the suppression it causes,
// a webhook receiver's error and a suppression reason from the API.
func TestTextPostgresCannotHold(t *testing.T) {
	ctx := context.Background()
	s := openDSN(t, pgtest.DSN(t))
	if err := s.AddDomain(ctx, "a.example"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddWebhookEndpoint(ctx, store.WebhookEndpoint{Domain: "a.example", URL: "https://hooks.example/x", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	const bad = "550 5.1.1 Empf\xe4nger unbekannt\x00"
	const want = "550 5.1.1 Empf\uFFFDnger unbekannt\uFFFD"
	id, err := s.Enqueue(ctx, store.QueuedMessage{From: "a@a.example", Recipients: []string{"x@remote.example", "y@remote.example"},
		Body: []byte("x\r\n"), TrackingID: store.NewTrackingID(), Domain: "a.example"})
	if err != nil {
		t.Fatal(err)
	}
	claimed, err := s.ClaimQueued(ctx, time.Now(), time.Minute, 1, "node-a")
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	err = s.FinishAttempt(ctx, store.Attempt{ID: id, Lease: claimed[0].Lease, NextAttempt: time.Now().Add(time.Hour),
		LastError: bad, Results: []store.RecipientStatus{
			{Address: "x@remote.example", State: store.RecipientFailed, Reply: bad},
			{Address: "y@remote.example", State: store.RecipientPending, Reply: bad},
		}})
	if err != nil {
		t.Fatalf("FinishAttempt with a Latin-1 reply: %v", err)
	}
	q, err := s.QueuedMessage(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if q.LastError != want || q.Status[0].Reply != want || q.Attempts != 1 {
		t.Errorf("queued message after the attempt: %+v", q)
	}
	evs, err := s.QueryEvents(ctx, store.EventFilter{Domain: "a.example", Types: []store.EventType{store.EventBounced}})
	if err != nil || len(evs) != 1 || evs[0].Reply != want {
		t.Errorf("bounced events %+v, %v", evs, err)
	}
	sup, err := s.Suppressed(ctx, "a.example", []string{"x@remote.example"})
	if err != nil || len(sup) != 1 || !strings.HasSuffix(sup[0].Reason, want) {
		t.Errorf("suppression %+v, %v", sup, err)
	}
	if err := s.AddSuppression(ctx, store.Suppression{Domain: "a.example", Address: "z@remote.example", Reason: "by\x00hand"}); err != nil {
		t.Errorf("AddSuppression with a NUL in the reason: %v", err)
	}

	ds, err := s.ClaimWebhookDeliveries(ctx, time.Now(), time.Minute, 10)
	if err != nil || len(ds) == 0 {
		t.Fatalf("claim webhook deliveries: %v %v", ds, err)
	}
	if err := s.FinishWebhookDelivery(ctx, store.WebhookResult{ID: ds[0].ID, Lease: ds[0].Lease, State: store.WebhookPending,
		NextAttempt: time.Now().Add(time.Hour), LastError: "502 B\xe4d Gateway"}); err != nil {
		t.Errorf("FinishWebhookDelivery with a Latin-1 error: %v", err)
	}
}
