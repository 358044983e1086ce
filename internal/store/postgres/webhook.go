package postgres

import (
	"context"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// AddWebhookEndpoint implements store.Events; not written yet.
func (s *Store) AddWebhookEndpoint(ctx context.Context, e store.WebhookEndpoint) (store.WebhookEndpoint, error) {
	return store.WebhookEndpoint{}, unsupported("AddWebhookEndpoint")
}

// WebhookEndpoints implements store.Events; not written yet.
func (s *Store) WebhookEndpoints(ctx context.Context, domain string) ([]store.WebhookEndpoint, error) {
	return nil, unsupported("WebhookEndpoints")
}

// WebhookEndpoint implements store.Events; not written yet.
func (s *Store) WebhookEndpoint(ctx context.Context, id int64) (store.WebhookEndpoint, error) {
	return store.WebhookEndpoint{}, unsupported("WebhookEndpoint")
}

// SetWebhookEnabled implements store.Events; not written yet.
func (s *Store) SetWebhookEnabled(ctx context.Context, id int64, enabled bool) error {
	return unsupported("SetWebhookEnabled")
}

// RemoveWebhookEndpoint implements store.Events; not written yet.
func (s *Store) RemoveWebhookEndpoint(ctx context.Context, id int64) error {
	return unsupported("RemoveWebhookEndpoint")
}

// WebhookSubscribed implements store.Events; not written yet.
func (s *Store) WebhookSubscribed(ctx context.Context, domain string, t store.EventType) (bool, error) {
	return false, unsupported("WebhookSubscribed")
}

// ClaimWebhookDeliveries implements store.Events; not written yet.
func (s *Store) ClaimWebhookDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.WebhookDelivery, error) {
	return nil, unsupported("ClaimWebhookDeliveries")
}

// FinishWebhookDelivery implements store.Events; not written yet.
func (s *Store) FinishWebhookDelivery(ctx context.Context, r store.WebhookResult) error {
	return unsupported("FinishWebhookDelivery")
}

// WebhookDeliveries implements store.Events; not written yet.
func (s *Store) WebhookDeliveries(ctx context.Context, endpointID int64, limit int) ([]store.WebhookDelivery, error) {
	return nil, unsupported("WebhookDeliveries")
}
