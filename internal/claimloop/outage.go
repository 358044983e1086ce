package claimloop

import (
	"log/slog"
	"strings"
	"time"
)

// outage logs a run of failed claims without flooding the log while the
// database is down (a claim is tried every poll, once a second): the
// first failure at once, then at most one line per every with the
// failures since the last line, and one line when a claim works again.
// Errors are logged on one line (pgx's connection errors span several).
// Used by the claim loop's goroutine only.
type outage struct {
	log   *slog.Logger
	what  string
	every time.Duration
	now   func() time.Time

	failing  bool
	since    time.Time // the first failure of this outage
	lastLine time.Time
	unlogged int // failures since the last line
	total    int // failures in this outage
}

func (o *outage) fail(err error) {
	now := o.now()
	o.total++
	if !o.failing {
		o.failing, o.since, o.lastLine, o.unlogged = true, now, now, 0
		o.log.Error(o.what+" failed; retrying", "err", oneLine(err))
		return
	}
	o.unlogged++
	if now.Sub(o.lastLine) >= o.every {
		o.log.Error(o.what+" still failing", "failures", o.unlogged, "since", o.since.Format(time.RFC3339), "err", oneLine(err))
		o.lastLine, o.unlogged = now, 0
	}
}

func (o *outage) ok() {
	if !o.failing {
		return
	}
	o.log.Info(o.what+" recovered", "failures", o.total, "after", o.now().Sub(o.since).Round(time.Millisecond))
	o.failing, o.total = false, 0
}

// oneLine is err's text with every run of white space (line breaks
// included) made one space.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
