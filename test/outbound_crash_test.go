package test

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/delivery/deliverytest"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/internal/store"
)

// TestOutboundCrashRestart kills the sending server with SIGKILL in the
// middle of a queue of 1,000 messages and restarts it: every message
// arrives, and only messages that were in flight at the kill (received
// before it) arrive twice, never more (at-least-once by leases).
func TestOutboundCrashRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("long test")
	}
	const (
		total       = 1000
		maxInFlight = 50
	)
	n := newOutboundNet(t)
	sink := deliverytest.Start(t, n.sink, n.port, deliverytest.Options{DataDelay: 10 * time.Millisecond})
	zones := dnstest.Start(t, dnstest.Zone{Origin: "sink.test", Records: "@ MX 10 mx\nmx A " + n.sink})

	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	st := openDataStore(t, data)
	enqueueTokens(t, st, total)
	st.Close()

	mxPort := deliverytest.FreePort(t, n.a)
	ready := fmt.Sprintf("%s:%d", n.a, mxPort)
	cfg := serveConfigAt(t, "mail.a.test", data, "smtp", ready, zones.Addr()) + fmt.Sprintf(`[delivery]
port = %d
retry_min = "1s"
retry_max = "2s"
attempt_timeout = "10s"
lease = "3s"
max_in_flight = %d
max_per_destination = 10
`, n.port, maxInFlight)
	srv := startServe(t, dir, cfg, ready)
	sink.Wait(t, total*3/10, 2*time.Minute)
	srv.stop(syscall.SIGKILL)
	// Messages received up to now were in flight at the kill; from here
	// on only the restarted server delivers.
	atKill := settledCount(sink)
	if atKill >= total {
		t.Fatalf("all %d messages were delivered before the kill: the test proves nothing", atKill)
	}
	srv = startServe(t, dir, cfg, ready)

	waitFor(t, 2*time.Minute, "every message at the sink", func() bool {
		return len(tokenArrivals(t, sink.Messages())) == total
	}, srv)
	waitFor(t, time.Minute, "an empty queue", func() bool {
		out, _ := runAt(t, nil, data, "queue summary")
		return strings.Contains(out, "messages: 0")
	}, srv)
	if err := srv.stop(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM: %v", err)
	}
	msgs := sink.Messages()
	dups := checkDuplicates(t, tokenArrivals(t, msgs), atKill, maxInFlight)
	t.Logf("%d messages, %d received before the kill, %d received in all, %d duplicates", total, atKill, len(msgs), dups)
}

// enqueueTokens queues total messages to ten recipients at sink.test,
// each with its number in an X-Token field.
func enqueueTokens(t *testing.T, st store.Store, total int) {
	t.Helper()
	ctx := context.Background()
	for i := range total {
		body := fmt.Sprintf("From: alice@a.test\r\nTo: r%d@sink.test\r\nSubject: crash\r\nX-Token: %d\r\n\r\nbody %d\r\n", i%10, i, i)
		if _, err := st.Enqueue(ctx, store.QueuedMessage{From: "alice@a.test", Recipients: []string{fmt.Sprintf("r%d@sink.test", i%10)}, Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
	}
}

// settledCount returns how many messages the sink holds once it has been
// quiet for half a second (at most 10 s): what a killed sender had sent
// is still reaching it (socket buffers, the sink's own processing).
func settledCount(sink *deliverytest.Sink) int {
	n := len(sink.Messages())
	for quiet, deadline := time.Now(), time.Now().Add(10*time.Second); time.Since(quiet) < 500*time.Millisecond && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		if m := len(sink.Messages()); m != n {
			n, quiet = m, time.Now()
		}
	}
	return n
}

var xToken = regexp.MustCompile(`X-Token: (\d+)`)

// tokenArrivals maps the X-Token of every message in msgs to the indexes
// of its arrivals.
func tokenArrivals(t *testing.T, msgs []deliverytest.Message) map[string][]int {
	t.Helper()
	m := map[string][]int{}
	for i, msg := range msgs {
		tok := xToken.FindSubmatch(msg.Data)
		if tok == nil {
			t.Fatalf("message without a token: %q", msg.Data)
		}
		m[string(tok[1])] = append(m[string(tok[1])], i)
	}
	return m
}

// checkDuplicates fails the test for a message that arrived more than
// twice, or twice with its first arrival at or after atKill (it was not in
// flight at the kill), or when more than maxInFlight arrived twice; it
// returns how many arrived twice.
func checkDuplicates(t *testing.T, arrivals map[string][]int, atKill, maxInFlight int) int {
	t.Helper()
	dups := 0
	for tok, idx := range arrivals {
		switch {
		case len(idx) > 2:
			t.Errorf("message %s arrived %d times", tok, len(idx))
		case len(idx) == 2:
			dups++
			if idx[0] >= atKill {
				t.Errorf("message %s arrived twice, the first time after the kill: it was not in flight then", tok)
			}
		}
	}
	if dups > maxInFlight {
		t.Errorf("%d duplicates, more than the %d messages that can be in flight", dups, maxInFlight)
	}
	return dups
}
