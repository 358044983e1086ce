package test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/delivery/deliverytest"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/internal/store/postgres"
	"github.com/posthorn/posthorn/internal/store/postgres/pgtest"
)

// TestClusterQueueTakeover: node A delivers a queue of 400 messages from
// the shared PostgreSQL database to a slow sink and is killed with
// SIGKILL while it holds leases; node B, a second posthorn on the same
// database, then delivers every message. The messages A had leased go out
// only once their lease has run out (B waits for them, it does not steal
// them), and soon after: the lease (3 s here, 1 minute by default) is
// renewed while an attempt runs, so it can be short, and a dead node's
// messages wait for it, not for attempt_timeout. While A is dead,
// posthorn queue list names it as the holder of the leases that ran out.
// Only messages that were in flight at the kill arrive twice, never
// more, and no more of them than A could have in flight.
func TestClusterQueueTakeover(t *testing.T) {
	if testing.Short() {
		t.Skip("long test")
	}
	const (
		total       = 400
		maxInFlight = 20
		lease       = 3 * time.Second
	)
	n := newOutboundNet(t)
	sink := deliverytest.Start(t, n.sink, n.port, deliverytest.Options{DataDelay: 100 * time.Millisecond})
	zones := dnstest.Start(t, dnstest.Zone{Origin: "sink.test", Records: "@ MX 10 mx\nmx A " + n.sink})
	dsn := pgtest.DSN(t)

	ctx := context.Background()
	st, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	enqueueTokens(t, st, total)

	root := t.TempDir()
	node := func(name, ip string) (dir, cfg, ready string) {
		dir = filepath.Join(root, name)
		ready = fmt.Sprintf("%s:%d", ip, deliverytest.FreePort(t, ip))
		cfg = fmt.Sprintf("node = %q\n", "node-"+name) + serveConfig("mail-"+name+".a.test", filepath.Join(dir, "data"), "smtp", ready, zones.Addr()) +
			fmt.Sprintf("[store]\nbackend = \"postgres\"\ndsn = %q\n", dsn) + fmt.Sprintf(`[delivery]
port = %d
source_address = %q
retry_min = "1s"
retry_max = "2s"
attempt_timeout = "10s"
lease = %q
max_in_flight = %d
max_per_destination = 10
`, n.port, ip, lease.String(), maxInFlight)
		return dir, cfg, ready
	}
	dirA, cfgA, readyA := node("a", n.a)
	dirB, cfgB, readyB := node("b", n.b)

	a := startServe(t, dirA, cfgA, readyA)
	sink.Wait(t, total*3/10, 2*time.Minute)
	a.stop(syscall.SIGKILL)
	killed := time.Now()
	atKill := settledCount(sink)
	if atKill >= total {
		t.Fatalf("all %d messages were delivered before the kill: the test proves nothing", atKill)
	}
	// The leases the dead node still holds.
	queued, err := st.QueuedMessages(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	read := time.Now()
	leased := map[string]time.Time{} // token → lease end
	for _, q := range queued {
		if q.Lease == 0 || !q.NextAttempt.After(read) {
			continue
		}
		body, err := st.QueuedBody(ctx, q.ID)
		if err != nil {
			t.Fatal(err)
		}
		if tok := xToken.FindSubmatch(body); tok != nil {
			leased[string(tok[1])] = q.NextAttempt
		}
		if q.LeaseHolder != "node-a" {
			t.Errorf("message %d leased by %q, want node-a", q.ID, q.LeaseHolder)
		}
		// Renewed at most a lease before its end, by a node now dead.
		if q.NextAttempt.After(killed.Add(lease + time.Second)) {
			t.Errorf("message %d leased until %v, more than the lease (%v) after the kill at %v", q.ID,
				q.NextAttempt.Format(time.StampMilli), lease, killed.Format(time.StampMilli))
		}
	}
	if len(leased) == 0 {
		t.Fatal("node A held no lease at the kill: the test proves nothing")
	}
	// Once the leases ran out, queue list names the dead node.
	time.Sleep(time.Until(killed.Add(lease + time.Second)))
	if out, _ := run(t, nil, "queue", "list", "-config", filepath.Join(dirA, "posthorn.toml")); !strings.Contains(out, "\texpired:node-a\t") {
		t.Errorf("queue list after node A's leases ran out names no expired:node-a:\n%s", out)
	}

	bStart := time.Now()
	b := startServe(t, dirB, cfgB, readyB)
	waitFor(t, 2*time.Minute, "every message at the sink", func() bool { return len(tokenArrivals(t, sink.Messages())) == total }, b)
	waitFor(t, time.Minute, "an empty queue", func() bool {
		out, _ := run(t, nil, "queue", "summary", "-config", filepath.Join(dirB, "posthorn.toml"))
		return strings.Contains(out, "messages: 0")
	}, b)
	if err := b.stop(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM: %v", err)
	}

	msgs := sink.Messages()
	arrivals := tokenArrivals(t, msgs)
	dups := checkDuplicates(t, arrivals, atKill, maxInFlight)
	var lastTakeover time.Duration
	for tok, idx := range arrivals {
		end, ok := leased[tok]
		if !ok {
			continue
		}
		last := msgs[idx[len(idx)-1]]
		if idx[len(idx)-1] < atKill {
			t.Errorf("message %s was still queued under node A's lease at the kill, but node B never delivered it", tok)
			continue
		}
		if last.At.Before(end.Add(-50 * time.Millisecond)) {
			t.Errorf("message %s, leased by node A until %v, arrived from node B at %v: before the lease ran out", tok, end.Format(time.StampMilli), last.At.Format(time.StampMilli))
		}
		lastTakeover = max(lastTakeover, last.At.Sub(bStart))
		// Node B delivers it soon after the lease: well before the
		// 11 minutes the default lease used to be.
		if late := last.At.Sub(killed); late > lease+time.Minute {
			t.Errorf("message %s, leased by node A, arrived %v after the kill: more than the lease (%v) and a minute", tok, late.Round(time.Millisecond), lease)
		}
	}
	t.Logf("%d messages; %d received before the kill; %d leased by node A at the kill, the last delivered by node B %v after it started; %d duplicates",
		total, atKill, len(leased), lastTakeover.Round(time.Millisecond), dups)
}
