package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Conns counts the connections of one protocol (listener role). A nil
// *Conns counts nothing.
type Conns struct {
	open              prometheus.Gauge
	accepted, refused prometheus.Counter
}

// Conns returns the connection counters of protocol ("smtp",
// "submission", "imap", "pop3s", "http", ...), nil for a nil Registry.
func (r *Registry) Conns(protocol string) *Conns {
	if r == nil {
		return nil
	}
	return &Conns{
		open:     r.connsOpen.WithLabelValues(protocol),
		accepted: r.connsTotal.WithLabelValues(protocol, "accepted"),
		refused:  r.connsTotal.WithLabelValues(protocol, "refused"),
	}
}

// Opened counts an accepted connection, open until Closed.
func (c *Conns) Opened() {
	if c != nil {
		c.accepted.Inc()
		c.open.Inc()
	}
}

// Closed counts the end of an Opened connection.
func (c *Conns) Closed() {
	if c != nil {
		c.open.Dec()
	}
}

// Refused counts a connection turned away over a limit or at shutdown.
func (c *Conns) Refused() {
	if c != nil {
		c.refused.Inc()
	}
}

// Received counts the messages offered on one listener role. A nil
// *Received counts nothing.
type Received struct {
	accepted, temporary, permanent prometheus.Counter
}

// Received returns the message counters of a listener role ("smtp",
// "submission", "submissions", "api", "sendmail"), nil for a nil Registry.
func (r *Registry) Received(listener string) *Received {
	if r == nil {
		return nil
	}
	return &Received{
		accepted:  r.received.WithLabelValues(listener, "accepted"),
		temporary: r.received.WithLabelValues(listener, "rejected_temporary"),
		permanent: r.received.WithLabelValues(listener, "rejected_permanent"),
	}
}

// Accepted counts a message taken (acknowledged after it was stored).
func (m *Received) Accepted() {
	if m != nil {
		m.accepted.Inc()
	}
}

// Rejected counts a message refused with an SMTP reply code: 4xx
// temporary, 5xx (or anything else) permanent.
func (m *Received) Rejected(code int) { m.Refused(code/100 == 4) }

// Refused counts a message refused, temporarily (the client may retry:
// SMTP 4xx, HTTP 429 and 5xx) or not.
func (m *Received) Refused(temporary bool) {
	switch {
	case m == nil:
	case temporary:
		m.temporary.Inc()
	default:
		m.permanent.Inc()
	}
}

// AuthFailure counts a failed login on protocol; reason is "credentials"
// (wrong name or password) or "locked_out" (refused by the throttle).
func (r *Registry) AuthFailure(protocol, reason string) {
	if r != nil {
		r.authFailures.WithLabelValues(protocol, reason).Inc()
	}
}

// Delivered counts a recipient delivered after waiting queued (from
// entering the queue to the remote 2xx).
func (r *Registry) Delivered(waited time.Duration) {
	if r != nil {
		r.deliveries.WithLabelValues("delivered").Inc()
		r.latency.Observe(waited.Seconds())
	}
}

// Deferred counts a recipient left for a later attempt.
func (r *Registry) Deferred() {
	if r != nil {
		r.deliveries.WithLabelValues("deferred").Inc()
	}
}

// Bounced counts a recipient failed for good (permanent reply or give-up).
func (r *Registry) Bounced() {
	if r != nil {
		r.deliveries.WithLabelValues("bounced").Inc()
	}
}

// Webhook counts one webhook POST: ok when the receiver answered 2xx.
func (r *Registry) Webhook(ok bool) {
	if r == nil {
		return
	}
	if ok {
		r.webhooks.WithLabelValues("ok").Inc()
	} else {
		r.webhooks.WithLabelValues("failed").Inc()
	}
}
