package postgres

import (
	"context"

	"github.com/posthorn/posthorn/internal/store"
)

// Suppressed implements store.Events; not written yet.
func (s *Store) Suppressed(ctx context.Context, domain string, addrs []string) ([]store.Suppression, error) {
	return nil, unsupported("Suppressed")
}

// Suppressions implements store.Events; not written yet.
func (s *Store) Suppressions(ctx context.Context, domain string, after string, limit int) ([]store.Suppression, error) {
	return nil, unsupported("Suppressions")
}

// AddSuppression implements store.Events; not written yet.
func (s *Store) AddSuppression(ctx context.Context, sup store.Suppression) error {
	return unsupported("AddSuppression")
}

// RemoveSuppression implements store.Events; not written yet.
func (s *Store) RemoveSuppression(ctx context.Context, domain, address string) error {
	return unsupported("RemoveSuppression")
}
