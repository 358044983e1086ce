package claimloop

import (
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Outage logs a run of failures of one kind of database call without
// flooding the log while the database is down (the claim loop tries every
// poll, once a second; every attempt in flight renews its lease): the
// first failure at once, then at most one line per every with the
// failures since the last line, and one line when a call works again.
// Errors are logged on one line (pgx's connection errors span several).
// Safe for concurrent use.
type Outage struct {
	log   *slog.Logger
	what  string
	every time.Duration
	now   func() time.Time

	mu       sync.Mutex
	failing  bool
	since    time.Time // the first failure of this outage
	lastLine time.Time
	unlogged int // failures since the last line
	total    int // failures in this outage
}

// NewOutage returns an Outage logging to log (nil: nowhere) as what
// ("queue: claiming messages"), a repeated failure at most once per every
// (1m when 0).
func NewOutage(log *slog.Logger, what string, every time.Duration) *Outage {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if every <= 0 {
		every = time.Minute
	}
	return &Outage{log: log, what: what, every: every, now: time.Now}
}

// Fail records a failed call.
func (o *Outage) Fail(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
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

// OK records a call that worked, ending an outage.
func (o *Outage) OK() {
	o.mu.Lock()
	defer o.mu.Unlock()
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
