package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/posthorn/posthorn/internal/store"
)

// QueueCounter is the part of store.Queue the queue size collector reads.
type QueueCounter interface {
	QueueCounts(ctx context.Context, now time.Time) (store.QueueCounts, error)
}

// queueTimeout bounds the store query of one scrape.
const queueTimeout = 5 * time.Second

var queueDesc = prometheus.NewDesc("posthorn_queue_messages",
	"Messages in the outbound queue, read from the store at scrape time, by state: queued (due for an attempt now), "+
		"deferred (waiting for a retry, or being attempted now), held (by an administrator).",
	[]string{"state"}, nil)

// queueCollector reads the queue size at scrape time: one indexed query.
type queueCollector struct{ q QueueCounter }

func (c queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- queueDesc }

func (c queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), queueTimeout)
	defer cancel()
	n, err := c.q.QueueCounts(ctx, time.Now())
	if err != nil {
		ch <- prometheus.NewInvalidMetric(queueDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(n.Queued), "queued")
	ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(n.Deferred), "deferred")
	ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(n.Held), "held")
}

// WatchQueue adds the queue size gauge posthorn_queue_messages, read from
// q at each scrape. A nil Registry ignores it.
func (r *Registry) WatchQueue(q QueueCounter) {
	if r != nil {
		r.reg.MustRegister(queueCollector{q})
	}
}
