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
