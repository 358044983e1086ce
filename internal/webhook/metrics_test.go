package webhook_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/posthorn/posthorn/internal/metrics"
	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/webhook"
)

// TestMetrics: every POST is counted once, 500s as failed and the 200 as
// ok.
func TestMetrics(t *testing.T) {
	s, r, _ := hookStore(t, 2, "/hook") // 500 twice, then 200
	ctx := t.Context()
	if _, err := s.RecordEvents(ctx, []store.Event{{Type: store.EventDelivered, Domain: "example.org", Message: store.NewTrackingID(), Recipient: "a@remote.test", Reply: "250 ok"}}); err != nil {
		t.Fatal(err)
	}
	reg := metrics.New()
	startWorker(t, s, webhook.Options{Metrics: reg})
	r.wait(1)
	want := `
# HELP posthorn_webhook_deliveries_total Webhook POSTs, by result (ok: 2xx answer; failed: anything else, to be retried).
# TYPE posthorn_webhook_deliveries_total counter
posthorn_webhook_deliveries_total{result="failed"} 2
posthorn_webhook_deliveries_total{result="ok"} 1
`
	// The worker counts right after the POST returns: allow it a moment.
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := testutil.GatherAndCompare(reg.Gatherer(), strings.NewReader(want), "posthorn_webhook_deliveries_total")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
