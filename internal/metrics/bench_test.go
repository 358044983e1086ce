package metrics

import "testing"

// BenchmarkTransaction is what an SMTP transaction costs in counting:
// a connection opened and closed, a message accepted.
func BenchmarkTransaction(b *testing.B) {
	r := New()
	c, m := r.Conns("smtp"), r.Received("smtp")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Opened()
			m.Accepted()
			c.Closed()
		}
	})
}
