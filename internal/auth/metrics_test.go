package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/posthorn/posthorn/internal/metrics"
)

// TestMetricsFailures: wrong passwords count as "credentials", logins
// refused by the lockout as "locked_out", good logins not at all.
func TestMetricsFailures(t *testing.T) {
	t.Parallel()
	reg := metrics.New()
	e := newEnv(t, ServiceOptions{Metrics: reg, Throttle: ThrottleOptions{MaxFailuresPerAccount: 2, MaxFailuresPerIP: 100, Window: 10 * time.Minute}})
	e.account("alice@example.org", "correct horse")
	if _, err := e.login("alice@example.org", "correct horse", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := e.login("alice@example.org", "guess", "192.0.2.1"); !errors.Is(err, ErrFailed) {
			t.Fatalf("guess: %v", err)
		}
	}
	var te *ThrottledError
	if _, err := e.login("alice@example.org", "correct horse", "192.0.2.1"); !errors.As(err, &te) {
		t.Fatalf("login after the lockout: %v", err)
	}
	want := `
# HELP posthorn_auth_failures_total Failed logins, by protocol (smtp, imap, pop3, http) and reason (credentials: wrong name or password; locked_out: refused by the throttle).
# TYPE posthorn_auth_failures_total counter
posthorn_auth_failures_total{protocol="imap",reason="credentials"} 2
posthorn_auth_failures_total{protocol="imap",reason="locked_out"} 1
`
	if err := testutil.GatherAndCompare(reg.Gatherer(), strings.NewReader(want), "posthorn_auth_failures_total"); err != nil {
		t.Error(err)
	}
}
