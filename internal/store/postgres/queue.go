package postgres

import (
	"context"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// Enqueue implements store.Queue; not written yet.
func (s *Store) Enqueue(ctx context.Context, m store.QueuedMessage) (int64, error) {
	return 0, unsupported("Enqueue")
}

// QueuedMessages implements store.Queue; not written yet.
func (s *Store) QueuedMessages(ctx context.Context, limit int) ([]store.QueuedMessage, error) {
	return nil, unsupported("QueuedMessages")
}

// QueuedMessage implements store.Queue; not written yet.
func (s *Store) QueuedMessage(ctx context.Context, id int64) (store.QueuedMessage, error) {
	return store.QueuedMessage{}, unsupported("QueuedMessage")
}

// QueuedBody implements store.Queue; not written yet.
func (s *Store) QueuedBody(ctx context.Context, id int64) ([]byte, error) {
	return nil, unsupported("QueuedBody")
}

// ClaimQueued implements store.Queue; not written yet.
func (s *Store) ClaimQueued(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.QueuedMessage, error) {
	return nil, unsupported("ClaimQueued")
}

// FinishAttempt implements store.Queue; not written yet.
func (s *Store) FinishAttempt(ctx context.Context, a store.Attempt) error {
	return unsupported("FinishAttempt")
}

// NextQueuedAttempt implements store.Queue; not written yet.
func (s *Store) NextQueuedAttempt(ctx context.Context) (time.Time, error) {
	return time.Time{}, unsupported("NextQueuedAttempt")
}

// QueueCounts implements store.Queue; not written yet.
func (s *Store) QueueCounts(ctx context.Context, now time.Time) (store.QueueCounts, error) {
	return store.QueueCounts{}, unsupported("QueueCounts")
}

// HoldQueued implements store.Queue; not written yet.
func (s *Store) HoldQueued(ctx context.Context, id int64, hold bool) error {
	return unsupported("HoldQueued")
}

// RetryQueued implements store.Queue; not written yet.
func (s *Store) RetryQueued(ctx context.Context, id int64) error {
	return unsupported("RetryQueued")
}

// RemoveQueued implements store.Queue; not written yet.
func (s *Store) RemoveQueued(ctx context.Context, id int64) error {
	return unsupported("RemoveQueued")
}
