package auth_test

import (
	"testing"

	"github.com/posthorn/posthorn/internal/auth"
	"github.com/posthorn/posthorn/internal/auth/failuretest"
)

// TestMemoryFailuresBound: the in-memory store keeps the FailureStore
// bound (failuretest.Bound).
func TestMemoryFailuresBound(t *testing.T) {
	t.Parallel()
	m := auth.NewMemoryFailures()
	failuretest.Bound(t, m, 20, func() int {
		n, ok := m.(interface{ Records() (int, bool) }).Records()
		if !ok {
			t.Fatal("more records counted than kept")
		}
		return n
	})
}
