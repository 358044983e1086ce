package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/posthorn/posthorn/internal/store"
)

// A component built without metrics gets nil handles; counting on them
// must do nothing, not panic.
func TestNilSafe(t *testing.T) {
	var r *Registry
	r.Conns("smtp").Opened()
	r.Conns("smtp").Closed()
	r.Conns("smtp").Refused()
	r.Received("smtp").Accepted()
	r.Received("smtp").Rejected(550)
	r.AuthFailure("imap", "credentials")
	r.Delivered(time.Second)
	r.Deferred()
	r.Bounced()
	r.Webhook(true)
	r.WatchQueue(nil)
	if err := r.Register(nil); err != nil {
		t.Fatal(err)
	}
}

func TestCounts(t *testing.T) {
	r := New()
	c := r.Conns("imap")
	c.Opened()
	c.Opened()
	c.Closed()
	c.Refused()
	m := r.Received("submission")
	m.Accepted()
	m.Rejected(451)
	m.Rejected(554)
	m.Rejected(554)
	r.Delivered(90 * time.Second)
	r.Bounced()
	want := `
# HELP posthorn_connections_open Connections open now, by protocol (listener role).
# TYPE posthorn_connections_open gauge
posthorn_connections_open{protocol="imap"} 1
# HELP posthorn_connections_total Connections received, by protocol (listener role) and result (accepted, or refused over a connection limit, during shutdown or without a trusted PROXY header).
# TYPE posthorn_connections_total counter
posthorn_connections_total{protocol="imap",result="accepted"} 2
posthorn_connections_total{protocol="imap",result="refused"} 1
`
	if err := testutil.GatherAndCompare(r.Gatherer(), strings.NewReader(want), "posthorn_connections_open", "posthorn_connections_total"); err != nil {
		t.Error(err)
	}
	for _, tc := range []struct {
		result string
		want   float64
	}{{"accepted", 1}, {"rejected_temporary", 1}, {"rejected_permanent", 2}} {
		if got := testutil.ToFloat64(r.received.WithLabelValues("submission", tc.result)); got != tc.want {
			t.Errorf("received %s = %v, want %v", tc.result, got, tc.want)
		}
	}
	if got := testutil.ToFloat64(r.deliveries.WithLabelValues("deferred")); got != 0 {
		t.Errorf("deferred = %v, want 0", got)
	}
	// 90 s falls in the (60, 300] bucket.
	if n := testutil.CollectAndCount(r.latency); n != 1 {
		t.Errorf("latency series = %d", n)
	}
}

type fakeQueue struct {
	n   store.QueueCounts
	err error
}

func (f *fakeQueue) QueueCounts(context.Context, time.Time) (store.QueueCounts, error) {
	return f.n, f.err
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestOpsHandler(t *testing.T) {
	r := New()
	q := &fakeQueue{n: store.QueueCounts{Queued: 3, Deferred: 2, Held: 1}}
	r.WatchQueue(q)
	var notReady error
	h := OpsHandler(OpsOptions{Registry: r, MetricsAllowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Ready: func(context.Context) error { return notReady }})
	srv := httptest.NewServer(h)
	defer srv.Close()

	if code, body := get(t, srv.URL+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := get(t, srv.URL+"/readyz"); code != 200 || body != "ok\n" {
		t.Errorf("/readyz = %d %q", code, body)
	}
	notReady = errors.New("shutting down")
	if code, body := get(t, srv.URL+"/readyz"); code != 503 || !strings.Contains(body, "shutting down") {
		t.Errorf("/readyz not ready = %d %q", code, body)
	}
	code, body := get(t, srv.URL+"/metrics")
	if code != 200 || !strings.Contains(body, `posthorn_queue_messages{state="queued"} 3`) ||
		!strings.Contains(body, `posthorn_queue_messages{state="held"} 1`) || !strings.Contains(body, "go_goroutines") ||
		!strings.Contains(body, `posthorn_delivery_recipients_total{result="bounced"} 0`) {
		t.Errorf("/metrics = %d\n%s", code, body)
	}
	// A store that does not answer costs the queue gauge, not the scrape.
	q.err = errors.New("database is locked")
	code, body = get(t, srv.URL+"/metrics")
	if code != 200 || strings.Contains(body, "posthorn_queue_messages{") || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics with a failing store = %d\n%s", code, body)
	}
	if code, _ := get(t, srv.URL+"/other"); code != 404 {
		t.Errorf("/other = %d, want 404", code)
	}

	// A client outside the allowed networks may not read the metrics.
	closed := httptest.NewServer(OpsHandler(OpsOptions{Registry: r, MetricsAllowed: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}))
	defer closed.Close()
	if code, _ := get(t, closed.URL+"/metrics"); code != 403 {
		t.Errorf("/metrics from a network not allowed = %d, want 403", code)
	}
	if code, _ := get(t, closed.URL+"/healthz"); code != 200 {
		t.Errorf("/healthz = %d, want 200 for anyone", code)
	}
}

func TestAllowed(t *testing.T) {
	nets := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for addr, want := range map[string]bool{
		"127.0.0.1:5000":        true,
		"[::1]:5000":            true,
		"[::ffff:127.0.0.1]:80": true,
		"[fe80::1%eth0]:80":     false,
		"192.0.2.1:80":          false,
		"garbage":               false,
	} {
		if got := allowed(addr, nets); got != want {
			t.Errorf("allowed(%q) = %v, want %v", addr, got, want)
		}
	}
}
