package queue

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/postgres/pgtest"
	"github.com/posthorn/posthorn/internal/testutil/poll"
	"github.com/posthorn/posthorn/internal/testutil/syncbuf"
)

// TestDatabaseOutageLogged: a worker whose PostgreSQL goes away (every
// connection cut and refused by a proxy in front of a real server) keeps
// trying to claim, once per poll, but logs the outage once, on one line,
// and once more when claims work again; a message enqueued during the
// outage is delivered after it.
func TestDatabaseOutageLogged(t *testing.T) {
	dsn := pgtest.DSN(t)
	proxy := pgtest.NewProxy(t, dsn)
	var buf syncbuf.Buffer
	tb := newTestbed(t, bedOptions{pgDSN: proxy.DSN(), logger: slog.New(slog.NewTextHandler(&buf, nil))})
	direct := openPostgres(t, dsn) // the database itself stays up
	first := tb.enqueue(t, "alice@example.org", []string{"before@remote.test"}, testMessage("before"), false)
	tb.waitGone(t, first, 30*time.Second)

	proxy.Cut()
	poll.Until(t, 30*time.Second, "the outage logged", func() bool { return strings.Contains(buf.String(), "claiming messages failed") })
	// Claims are tried every 50 ms: about 60 during these 3 seconds.
	time.Sleep(3 * time.Second)
	id, err := direct.Enqueue(context.Background(), store.QueuedMessage{From: "alice@example.org",
		Recipients: []string{"during@remote.test"}, Body: testMessage("during")})
	if err != nil {
		t.Fatal(err)
	}
	proxy.Restore()
	tb.waitGone(t, id, 30*time.Second)
	poll.Until(t, 30*time.Second, "the recovery logged", func() bool { return strings.Contains(buf.String(), "claiming messages recovered") })
	if n := len(tb.mx1.Messages()); n != 2 {
		t.Errorf("the receiver got %d messages, want 2", n)
	}

	var failed, still, recovered int
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if !strings.HasPrefix(line, "time=") {
			t.Errorf("a log record spans lines: %q", line)
		}
		switch {
		case strings.Contains(line, `msg="queue: claiming messages failed; retrying"`):
			failed++
		case strings.Contains(line, `msg="queue: claiming messages still failing"`):
			still++
		case strings.Contains(line, `msg="queue: claiming messages recovered"`):
			recovered++
			if !strings.Contains(line, "failures=") {
				t.Errorf("the recovery line lacks the count of failures: %s", line)
			}
		}
	}
	// The outage was shorter than a minute: no repeated line.
	if failed != 1 || still != 0 || recovered != 1 {
		t.Errorf("outage logged %d failed, %d still-failing, %d recovered lines (want 1, 0, 1):\n%s", failed, still, recovered, buf.String())
	}
}

// TestLeaseRunsOutDuringOutage: when the database goes away during an
// attempt that outlasts the lease (the receiving MTA stalls 4 s in DATA,
// the lease is 600 ms), the renewals fail and are logged once for the
// worker, and once the lease's end has passed the attempt is stopped
// (another node may have claimed the message by then) without waiting
// for the MTA. After the outage the message is tried again and leaves the
// queue, and the renewals are logged as recovered.
func TestLeaseRunsOutDuringOutage(t *testing.T) {
	dsn := pgtest.DSN(t)
	proxy := pgtest.NewProxy(t, dsn)
	var buf syncbuf.Buffer
	tb := newTestbed(t, bedOptions{pgDSN: proxy.DSN(), logger: slog.New(slog.NewTextHandler(&buf, nil)),
		dataDelay: 4 * time.Second, lease: 600 * time.Millisecond, attemptTimeout: time.Minute})
	id := tb.enqueue(t, "alice@example.org", []string{"stalled@remote.test"}, testMessage("stalled"), false)
	poll.Until(t, 30*time.Second, "the attempt under way", func() bool { return tb.mx1.Conns() > 0 })
	proxy.Cut()
	cut := time.Now()
	poll.Until(t, 30*time.Second, "the attempt stopped", func() bool { return strings.Contains(buf.String(), "lease ran out before it could be renewed") })
	if n := len(tb.mx1.Messages()); n != 0 || time.Since(cut) > 3*time.Second {
		t.Errorf("the attempt was stopped %v after the cut, the MTA holding %d messages: it waited for the MTA", time.Since(cut), n)
	}
	proxy.Restore()
	tb.waitGone(t, id, time.Minute)
	poll.Until(t, 30*time.Second, "the renewals' recovery logged", func() bool { return strings.Contains(buf.String(), "queue: renewing leases recovered") })

	log := buf.String()
	if n := strings.Count(log, `msg="queue: renewing leases failed; retrying"`); n != 1 {
		t.Errorf("%d lines for the first failed renewal, want 1:\n%s", n, log)
	}
	if n := strings.Count(log, "lease ran out before it could be renewed"); n != 1 {
		t.Errorf("%d attempts stopped, want 1:\n%s", n, log)
	}
}
