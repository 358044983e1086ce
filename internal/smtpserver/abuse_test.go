package smtpserver

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testutil/linetest"
)

// dialFrom dials addr from the loopback address src (127.0.0.0/8 is all
// ours on Linux), so tests can play several clients and networks.
func dialFrom(t testing.TB, src, addr string) *client {
	t.Helper()
	d := net.Dialer{Timeout: testTimeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return &client{linetest.Wrap(t, nc, testTimeout)}
}

const refused = "421 4.7.0 mx.test Too many connections, try again later"

// TestConnectionsPerNet: concurrent connections are counted per /24, so
// three neighbours share two slots while another network gets in.
func TestConnectionsPerNet(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, Options{MaxConnections: -1, MaxConnectionsPerIP: -1, MaxConnectionsPerNet: 2}, &fakeBackend{})
	dialFrom(t, "127.0.0.2", addr).ExpectReply("220 ")
	dialFrom(t, "127.0.0.3", addr).ExpectReply("220 ")
	c := dialFrom(t, "127.0.0.4", addr)
	c.ExpectReply(refused)
	c.ExpectClosed()
	dialFrom(t, "127.0.1.2", addr).ExpectReply("220 ")
}

// TestConnectionRate: the third connection within a minute from one IP is
// refused even though the first two have ended; another IP of another
// network is not affected; with a per-network rate, a neighbour is.
func TestConnectionRate(t *testing.T) {
	t.Parallel()
	t.Run("per IP", func(t *testing.T) {
		t.Parallel()
		_, addr := startServer(t, Options{ConnectionRatePerIP: 2}, &fakeBackend{})
		for range 2 {
			c := dialFrom(t, "127.0.0.2", addr)
			c.ExpectReply("220 ")
			c.Write("QUIT\r\n")
			c.ExpectReply("221 ")
		}
		c := dialFrom(t, "127.0.0.2", addr)
		c.ExpectReply(refused)
		c.ExpectClosed()
		dialFrom(t, "127.0.0.3", addr).ExpectReply("220 ")
	})
	t.Run("per net", func(t *testing.T) {
		t.Parallel()
		_, addr := startServer(t, Options{ConnectionRatePerNet: 2}, &fakeBackend{})
		dialFrom(t, "127.0.0.2", addr).ExpectReply("220 ")
		dialFrom(t, "127.0.0.3", addr).ExpectReply("220 ")
		dialFrom(t, "127.0.0.4", addr).ExpectReply(refused)
		dialFrom(t, "127.0.1.4", addr).ExpectReply("220 ")
	})
}

func TestRateLimiterRefill(t *testing.T) {
	r := newRateLimiter[netip.Addr](60) // one a second
	ip := netip.MustParseAddr("192.0.2.1")
	t0 := time.Unix(1000, 0)
	for i := range 60 {
		if !r.allow(ip, t0) {
			t.Fatalf("connection %d refused within the burst", i)
		}
	}
	if r.allow(ip, t0) {
		t.Fatal("61st connection at once allowed")
	}
	if !r.allow(ip, t0.Add(1100*time.Millisecond)) {
		t.Fatal("no token after a second")
	}
	if r.allow(ip, t0.Add(1200*time.Millisecond)) {
		t.Fatal("two tokens after a second")
	}
	// A full bucket is forgotten at the next sweep.
	r.allow(netip.MustParseAddr("192.0.2.2"), t0.Add(3*time.Minute))
	if _, ok := r.buckets[ip]; ok || len(r.buckets) != 1 {
		t.Errorf("buckets after sweep: %v", r.buckets)
	}
}
