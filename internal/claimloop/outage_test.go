package claimloop

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testutil/poll"
	"github.com/posthorn/posthorn/internal/testutil/syncbuf"
)

// TestOutageLogged: while claims fail, the log gets the first failure at
// once, then a line per ErrorEvery with the count, each on one line, and
// "recovered" when a claim works again; claims are still tried every
// poll, and the jobs are run after the recovery.
func TestOutageLogged(t *testing.T) {
	var failing atomic.Bool
	var tries, ran atomic.Int32
	failing.Store(true)
	claim := func(ctx context.Context, n int) ([]int, error) {
		tries.Add(1)
		if failing.Load() {
			return nil, errors.New("failed to connect to `user=posthorn database=mail`:\n\t127.0.0.1:5432 (127.0.0.1): dial error: connection refused")
		}
		if ran.Load() > 0 {
			return nil, nil
		}
		return []int{1}, nil
	}
	var buf syncbuf.Buffer
	l := New(Options[int]{Slots: 2, Poll: 5 * time.Millisecond, Claim: claim, Run: func(context.Context, int) { ran.Add(1) },
		What: "test: claiming", Logger: slog.New(slog.NewTextHandler(&buf, nil)), ErrorEvery: 300 * time.Millisecond})
	l.Start()
	defer l.Shutdown(context.Background())
	start := time.Now()
	poll.Until(t, 30*time.Second, "100 failed claims", func() bool { return tries.Load() >= 100 })
	// At least two ErrorEvery periods of failures.
	poll.Until(t, 30*time.Second, "two error periods", func() bool { return time.Since(start) > 700*time.Millisecond })
	failing.Store(false)
	poll.Until(t, 30*time.Second, "the job run after the recovery", func() bool { return ran.Load() >= 1 })
	elapsed := time.Since(start)
	poll.Until(t, 30*time.Second, "the recovery logged", func() bool { return strings.Contains(buf.String(), "recovered") })

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var first, still, recovered int
	for _, line := range lines {
		switch {
		case strings.Contains(line, `msg="test: claiming failed; retrying"`):
			first++
			if !strings.Contains(line, "dial error") {
				t.Errorf("the first failure's line lacks the error: %s", line)
			}
		case strings.Contains(line, `msg="test: claiming still failing"`):
			still++
			if !strings.Contains(line, "failures=") {
				t.Errorf("a repeated failure's line lacks the count: %s", line)
			}
		case strings.Contains(line, `msg="test: claiming recovered"`):
			recovered++
		default:
			t.Errorf("unexpected log line: %s", line)
		}
	}
	// At most one line per period after the first; at least one, as the
	// outage lasted more than two periods.
	most := int(elapsed/(300*time.Millisecond)) + 1
	if first != 1 || recovered != 1 || still < 1 || still > most {
		t.Errorf("%d tries in %v logged %d first, %d still-failing (want 1..%d), %d recovered lines:\n%s",
			tries.Load(), elapsed, first, still, most, recovered, buf.String())
	}
}
