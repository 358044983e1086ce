package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// PruneEvents works in batches and still removes a backlog larger than
// one batch, keeping newer events.
func TestPruneEventsBatches(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "posthorn.db"))
	ctx := context.Background()
	old := time.Now().Add(-40 * 24 * time.Hour)
	n := 2*pruneBatch + 17
	evs := make([]store.Event, n, n+1)
	for i := range evs {
		evs[i] = store.Event{Type: store.EventDelivered, Domain: "example.org", Time: old}
	}
	evs = append(evs, store.Event{Type: store.EventDelivered, Domain: "example.org"})
	if _, err := s.RecordEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	removed, err := s.PruneEvents(ctx, time.Now().Add(-30*24*time.Hour))
	if err != nil || removed != int64(n) {
		t.Fatalf("PruneEvents = %d, %v; want %d", removed, err, n)
	}
	left, err := s.QueryEvents(ctx, store.EventFilter{Domain: "example.org"})
	if err != nil || len(left) != 1 {
		t.Errorf("%d events left, want the recent one (%v)", len(left), err)
	}
}

// OnWebhookDeliveries fires after commits that wrote deliveries, and only
// those.
func TestOnWebhookDeliveries(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "posthorn.db"))
	ctx := context.Background()
	calls := make(chan struct{}, 10)
	s.OnWebhookDeliveries(func() { calls <- struct{}{} })
	if err := s.AddDomain(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordEvents(ctx, []store.Event{{Type: store.EventDelivered, Domain: "example.org"}}); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 0 {
		t.Fatal("called for an event no endpoint takes")
	}
	if _, err := s.AddWebhookEndpoint(ctx, store.WebhookEndpoint{Domain: "example.org", URL: "http://127.0.0.1:9/", Enabled: true,
		Types: []store.EventType{store.EventBounced}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordEvents(ctx, []store.Event{{Type: store.EventDelivered, Domain: "example.org"}}); err != nil || len(calls) != 0 {
		t.Fatalf("an event of another type: err %v, %d calls", err, len(calls))
	}
	// A failed write (the second event is invalid) wakes nobody.
	if _, err := s.RecordEvents(ctx, []store.Event{{Type: store.EventBounced, Domain: "example.org"}, {Type: "x", Domain: "example.org"}}); err == nil || len(calls) != 0 {
		t.Fatalf("a failed write: err %v, %d calls", err, len(calls))
	}
	if _, err := s.RecordEvents(ctx, []store.Event{{Type: store.EventBounced, Domain: "example.org"}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-calls:
	default:
		t.Fatal("not called after a commit that wrote a delivery")
	}
	// The rows are visible when it runs.
	if ds, err := s.ClaimWebhookDeliveries(ctx, time.Now().Add(time.Second), time.Minute, 10); err != nil || len(ds) != 1 {
		t.Errorf("claim after the call = %d deliveries, %v", len(ds), err)
	}
}
