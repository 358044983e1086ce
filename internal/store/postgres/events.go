package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/posthorn/posthorn/internal/store"
)

// RecordEvents implements store.Events; not written yet.
func (s *Store) RecordEvents(ctx context.Context, evs []store.Event) ([]store.Event, error) {
	return nil, unsupported("RecordEvents")
}

// QueryEvents implements store.Events; not written yet.
func (s *Store) QueryEvents(ctx context.Context, f store.EventFilter) ([]store.Event, error) {
	return nil, unsupported("QueryEvents")
}

// MessageStatus implements store.Events; not written yet.
func (s *Store) MessageStatus(ctx context.Context, domain, trackingID string) (store.MessageStatus, error) {
	return store.MessageStatus{}, unsupported("MessageStatus")
}

// PruneEvents implements store.Events; not written yet.
func (s *Store) PruneEvents(ctx context.Context, before time.Time) (int64, error) {
	return 0, unsupported("PruneEvents")
}

// addEvents writes events (store.Delivery.Events, Enqueue's events) and
// their webhook deliveries inside tx, the transaction of the change they
// report. Zero Time is now; it fills in ID and Seq. Called by Deliver
// with d.Events.
func (s *Store) addEvents(ctx context.Context, tx pgx.Tx, evs []store.Event, now time.Time) error {
	if len(evs) == 0 {
		return nil
	}
	return unsupported("events")
}
