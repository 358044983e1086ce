// Package metrics is posthorn's Prometheus instrumentation: one Registry
// per daemon (nothing global, so tests run several daemons in one
// process), handed to components through their Options. Components get
// small handles bound to their labels (Conns, Received) so that counting
// on a hot path is one atomic add; every handle and the Registry itself
// are nil-safe, so a component built without metrics works unchanged.
//
// Names follow the Prometheus conventions: the posthorn_ prefix, units in
// the name, _total for counters. Labels are bounded sets (listener roles,
// protocols, result classes): never addresses or domains.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry holds one daemon's collectors.
type Registry struct {
	reg *prometheus.Registry

	received     *prometheus.CounterVec // listener, result
	connsOpen    *prometheus.GaugeVec   // protocol
	connsTotal   *prometheus.CounterVec // protocol, result
	authFailures *prometheus.CounterVec // protocol, reason
	deliveries   *prometheus.CounterVec // result
	latency      prometheus.Histogram
	webhooks     *prometheus.CounterVec // result
}

// DeliveryLatencyBuckets are the bounds of the delivery latency histogram
// in seconds: from 100 ms (a local relay) to 5 days (the default give-up
// time), roughly tripling.
var DeliveryLatencyBuckets = []float64{
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, // seconds: direct delivery
	300, 900, 1800, 3600, // minutes: the first retries
	3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 5 * 86400, // hours and days
}

// New returns a Registry with posthorn's collectors and the Go runtime and
// process collectors.
func New() *Registry {
	r := &Registry{reg: prometheus.NewRegistry()}
	r.received = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "posthorn_messages_received_total",
		Help: "Messages offered to posthorn, by listener role (smtp, submission, submissions, api, sendmail) and result " +
			"(accepted, rejected_temporary for 4xx, rejected_permanent for 5xx). One per transaction, whatever its recipients.",
	}, []string{"listener", "result"})
	r.connsOpen = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "posthorn_connections_open",
		Help: "Connections open now, by protocol (listener role).",
	}, []string{"protocol"})
	r.connsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "posthorn_connections_total",
		Help: "Connections received, by protocol (listener role) and result (accepted, or refused over a connection limit, during shutdown or without a trusted PROXY header).",
	}, []string{"protocol", "result"})
	r.authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "posthorn_auth_failures_total",
		Help: "Failed logins, by protocol (smtp, imap, pop3, http) and reason (credentials: wrong name or password; locked_out: refused by the throttle).",
	}, []string{"protocol", "reason"})
	r.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "posthorn_delivery_recipients_total",
		Help: "Outbound delivery attempts per recipient, by result: delivered (2xx), deferred (to be retried), bounced (failed permanently or given up).",
	}, []string{"result"})
	r.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "posthorn_delivery_latency_seconds",
		Help:    "Time from a message entering the outbound queue to its delivery, per delivered recipient.",
		Buckets: DeliveryLatencyBuckets,
	})
	r.webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "posthorn_webhook_deliveries_total",
		Help: "Webhook POSTs, by result (ok: 2xx answer; failed: anything else, to be retried).",
	}, []string{"result"})
	r.reg.MustRegister(r.received, r.connsOpen, r.connsTotal, r.authFailures, r.deliveries, r.latency, r.webhooks,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Show the result series before the first event, so rates and alerts
	// see a 0 rather than no data.
	for _, res := range []string{"delivered", "deferred", "bounced"} {
		r.deliveries.WithLabelValues(res)
	}
	for _, res := range []string{"ok", "failed"} {
		r.webhooks.WithLabelValues(res)
	}
	return r
}

// Register adds a collector of another package (the queue size, say) to
// the registry. A nil Registry ignores it.
func (r *Registry) Register(c prometheus.Collector) error {
	if r == nil {
		return nil
	}
	return r.reg.Register(c)
}

// Gatherer is the registry to scrape (tests read it with testutil).
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// Handler serves the text exposition of the registry. A collector that
// fails (the store did not answer, say) leaves its metrics out and the
// rest is served.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}
