// Package claimloop is the loop the durable workers share (the outbound
// queue, the webhook outbox): wait for a wake-up or the poll interval,
// take the free slots, claim that many due jobs from the store (under a
// lease, so other nodes and restarts are safe), run each job in its own
// goroutine, and on Shutdown stop claiming and wait for the jobs in
// flight, cancelling them when the deadline passes. Claims that fail (the
// database is down) are logged as an outage: the first failure, then at
// most a line a minute with the count, and the recovery (Outage, which
// the queue also uses for its lease renewals).
package claimloop

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Options configure a Loop.
type Options[T any] struct {
	// Slots is how many jobs run at once (at least 1).
	Slots int
	// Poll is the sleep after a round that claimed nothing (or failed).
	Poll time.Duration
	// Claim returns up to n due jobs (fewer, or none, when that is all
	// there is); Run does one. Both get a context cancelled when
	// Shutdown's deadline passes.
	Claim func(ctx context.Context, n int) ([]T, error)
	Run   func(ctx context.Context, job T)
	// What names the jobs in log lines about failed claims ("queue:
	// claiming messages").
	What string
	// Logger gets those lines; nil logs nothing.
	Logger *slog.Logger
	// ErrorEvery is the least time between two lines about claims that
	// keep failing (1m).
	ErrorEvery time.Duration
}

// Loop runs claim rounds until Shutdown.
type Loop[T any] struct {
	claim  func(ctx context.Context, n int) ([]T, error)
	run    func(ctx context.Context, job T)
	poll   time.Duration
	outage *Outage

	ctx      context.Context // cancelled when Shutdown ends
	cancel   context.CancelFunc
	wake     chan struct{}
	stop     chan struct{}
	loopDone chan struct{}
	slots    chan struct{}
	inflight sync.WaitGroup
	once     sync.Once
}

// New returns a loop that runs at most opts.Slots jobs at once. After a
// round that claimed nothing the loop sleeps Poll (or until Wake); after
// one that claimed jobs it claims again at once.
func New[T any](opts Options[T]) *Loop[T] {
	l := &Loop[T]{claim: opts.Claim, run: opts.Run, poll: opts.Poll,
		outage: NewOutage(opts.Logger, opts.What, opts.ErrorEvery),
		wake:   make(chan struct{}, 1), stop: make(chan struct{}), loopDone: make(chan struct{}),
		slots: make(chan struct{}, max(opts.Slots, 1))}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	return l
}

// Start starts the loop.
func (l *Loop[T]) Start() { go l.loop() }

// Wake makes the loop claim now.
func (l *Loop[T]) Wake() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Shutdown stops claiming and waits for the jobs in flight; when ctx ends
// first they are cancelled and waited for, and ctx's error is returned.
func (l *Loop[T]) Shutdown(ctx context.Context) error {
	l.once.Do(func() { close(l.stop) })
	<-l.loopDone
	done := make(chan struct{})
	go func() { l.inflight.Wait(); close(done) }()
	select {
	case <-done:
		l.cancel()
		return nil
	case <-ctx.Done():
		l.cancel()
		<-done
		return ctx.Err()
	}
}

func (l *Loop[T]) loop() {
	defer close(l.loopDone)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-timer.C:
		case <-l.wake:
		}
		wait := l.poll
		if l.round() > 0 {
			wait = 0 // there may be more due
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// round claims as many jobs as there are free slots and starts them; it
// returns how many it started.
func (l *Loop[T]) round() int {
	free := 0
	for free < cap(l.slots) {
		select {
		case l.slots <- struct{}{}:
			free++
			continue
		default:
		}
		break
	}
	if free == 0 {
		// Every slot busy: wait for one (or stop), then briefly for more,
		// so that a busy store is claimed in batches, not one job per
		// transaction.
		select {
		case l.slots <- struct{}{}:
			free = 1
		case <-l.stop:
			return 0
		}
		batch := max(cap(l.slots)/4, 1)
		deadline := time.NewTimer(5 * time.Millisecond)
	more:
		for free < batch {
			select {
			case l.slots <- struct{}{}:
				free++
			case <-deadline.C:
				break more
			case <-l.stop:
				for range free {
					<-l.slots
				}
				return 0
			}
		}
		deadline.Stop()
	}
	jobs, err := l.claim(l.ctx, free)
	switch {
	case err != nil && l.ctx.Err() == nil:
		l.outage.Fail(err)
	case err == nil:
		l.outage.OK()
	}
	for range free - len(jobs) {
		<-l.slots
	}
	for _, job := range jobs {
		l.inflight.Add(1)
		go func() {
			defer func() { <-l.slots; l.inflight.Done() }()
			l.run(l.ctx, job)
		}()
	}
	return len(jobs)
}
