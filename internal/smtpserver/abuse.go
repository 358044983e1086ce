package smtpserver

import (
	"net/netip"
	"time"

	"github.com/posthorn/posthorn/internal/clientnet"
)

// Per-network limits: a client that controls one address usually controls
// its neighbours, so concurrency and connection rates are also counted per
// /24 (IPv4) and per /64 (IPv6, the usual size of one site's subnet).

// rateLimiter counts new connections per key with a token bucket: each
// key may open perMinute connections at once, and regains one every
// minute/perMinute. Keys whose bucket is full again are forgotten, so the
// memory held is bounded by the clients seen within the last minute.
type rateLimiter[K comparable] struct {
	perMinute int
	buckets   map[K]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was computed
}

func newRateLimiter[K comparable](perMinute int) *rateLimiter[K] {
	if perMinute <= 0 {
		return nil
	}
	return &rateLimiter[K]{perMinute: perMinute, buckets: make(map[K]*bucket)}
}

// allow takes a token for k if one is left. A nil limiter allows all.
// Callers serialise (Server.mu).
func (r *rateLimiter[K]) allow(k K, now time.Time) bool {
	if r == nil {
		return true
	}
	if now.Sub(r.lastSweep) > time.Minute {
		r.sweep(now)
	}
	b, ok := r.buckets[k]
	if !ok {
		b = &bucket{tokens: float64(r.perMinute), at: now}
		r.buckets[k] = b
	}
	b.tokens = r.refill(b, now)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (r *rateLimiter[K]) refill(b *bucket, now time.Time) float64 {
	t := b.tokens + now.Sub(b.at).Minutes()*float64(r.perMinute)
	return min(t, float64(r.perMinute))
}

// sweep forgets the buckets that are full again.
func (r *rateLimiter[K]) sweep(now time.Time) {
	for k, b := range r.buckets {
		if r.refill(b, now) >= float64(r.perMinute) {
			delete(r.buckets, k)
		}
	}
	r.lastSweep = now
}

// overLimit reports which limit, if any, a new connection from ip breaks,
// and counts it against the rate limits when none does. Called with s.mu
// held.
func (s *Server) overLimit(ip netip.Addr, now time.Time) string {
	o := &s.opts
	n := clientnet.Of(ip)
	switch {
	case o.MaxConnections > 0 && len(s.conns) >= o.MaxConnections:
		return "connections"
	case o.MaxConnectionsPerIP > 0 && s.perIP[ip] >= o.MaxConnectionsPerIP:
		return "connections per IP"
	case o.MaxConnectionsPerNet > 0 && s.perNet[n] >= o.MaxConnectionsPerNet:
		return "connections per network"
	case !s.rateIP.allow(ip, now):
		return "connection rate per IP"
	case !s.rateNet.allow(n, now):
		return "connection rate per network"
	}
	return ""
}
