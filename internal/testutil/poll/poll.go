// Package poll waits in tests for a condition that no event announces
// (a counter in another goroutine, a file another process writes): it
// checks often and gives up, failing the test, after a generous bound.
package poll

import (
	"testing"
	"time"
)

// Until checks cond every millisecond until it holds; after timeout it
// fails the test naming what it waited for.
func Until(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(time.Millisecond)
	}
}
