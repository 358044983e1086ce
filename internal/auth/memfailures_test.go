package auth

import (
	"errors"
	"fmt"
	"testing"
)

// TestThrottleBoundedSpray: logins guessing from many IPs and names keep
// the throttle's records within MaxRecords, and a name locked out before
// the spray stays locked out through it.
func TestThrottleBoundedSpray(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ServiceOptions{Throttle: ThrottleOptions{MaxFailuresPerAccount: 3, MaxFailuresPerIP: 5, MaxRecords: 30}})
	e.account("alice@example.org", "correct horse")
	for i := range 3 {
		e.login("alice@example.org", "guess", fmt.Sprintf("198.51.100.%d", i+1))
	}
	var te *ThrottledError
	if _, err := e.login("alice@example.org", "correct horse", "192.0.2.1"); !errors.As(err, &te) {
		t.Fatalf("alice after 3 failures: %v, want *ThrottledError", err)
	}
	m := e.svc.throttle.store.(*memoryFailures)
	for i := range 200 {
		if _, err := e.login(fmt.Sprintf("guess%d@example.org", i), "x", fmt.Sprintf("2001:db8:%x::1", i)); !errors.Is(err, ErrFailed) {
			t.Fatalf("spray %d: %v, want ErrFailed", i, err)
		}
		m.mu.Lock()
		n := len(m.entries)
		m.mu.Unlock()
		if n > 30 {
			t.Fatalf("spray %d: %d records, bound 30", i, n)
		}
	}
	if _, err := e.login("alice@example.org", "correct horse", "192.0.2.1"); !errors.As(err, &te) {
		t.Fatalf("alice after the spray: %v, want still *ThrottledError", err)
	}
	e.clock.Advance(DefaultThrottleWindow)
	if _, err := e.login("alice@example.org", "correct horse", "192.0.2.1"); err != nil {
		t.Fatalf("alice after the window: %v", err)
	}
}
