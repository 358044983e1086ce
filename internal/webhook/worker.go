package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/posthorn/posthorn/internal/metrics"
	"github.com/posthorn/posthorn/internal/store"
)

// Options configure a Worker. Zero values take the defaults shown.
type Options struct {
	Store store.Events
	// Client sends the requests; nil is a client that follows no
	// redirects. Timeout applies either way.
	Client *http.Client
	// Timeout bounds one POST, connection included (10s).
	Timeout time.Duration
	// Lease is how long a claimed delivery belongs to this worker
	// (Timeout + 30s); a worker that dies leaves it to expire.
	Lease time.Duration
	// RetryMin, RetryMax bound the backoff between attempts (30s, 1h).
	RetryMin, RetryMax time.Duration
	// GiveUp is how long after its creation a delivery is tried (24h).
	GiveUp time.Duration
	// Concurrency is how many POSTs run at once (16).
	Concurrency int
	// Poll is how often the outbox is checked when idle (1s); Wake checks
	// at once.
	Poll time.Duration
	// Retention: events and finished deliveries older than this are
	// pruned every PruneEvery (30 days, 1h); negative keeps them forever.
	Retention, PruneEvery time.Duration
	Logger                *slog.Logger
	// Now is the clock (time.Now).
	Now func() time.Time
	// Metrics counts POSTs answered 2xx and failed; nil counts nothing.
	Metrics *metrics.Registry
}

// Worker posts webhook deliveries until Shutdown.
type Worker struct {
	opts   Options
	log    *slog.Logger
	client *http.Client

	wake     chan struct{}
	stop     chan struct{}
	loopDone chan struct{}
	ctx      context.Context
	cancel   context.CancelFunc
	slots    chan struct{}
	inflight sync.WaitGroup
	once     sync.Once
}

// New returns a worker; Start runs it.
func New(opts Options) *Worker {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&opts.Timeout, 10*time.Second)
	def(&opts.Lease, opts.Timeout+30*time.Second)
	def(&opts.RetryMin, 30*time.Second)
	def(&opts.RetryMax, time.Hour)
	def(&opts.GiveUp, 24*time.Hour)
	def(&opts.Poll, time.Second)
	def(&opts.Retention, 30*24*time.Hour)
	def(&opts.PruneEvery, time.Hour)
	opts.RetryMax = max(opts.RetryMax, opts.RetryMin)
	if opts.Concurrency <= 0 {
		opts.Concurrency = 16
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	w := &Worker{opts: opts, log: opts.Logger, client: opts.Client,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), loopDone: make(chan struct{}),
		slots: make(chan struct{}, opts.Concurrency)}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.client == nil {
		w.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	return w
}

// Start starts the claim loop and the pruning.
func (w *Worker) Start() { go w.loop() }

// Wake makes the worker look at the outbox now.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Shutdown stops claiming and waits for the POSTs in flight until ctx
// ends; then they are cancelled (their leases expire and they are sent
// again after a restart).
func (w *Worker) Shutdown(ctx context.Context) error {
	w.once.Do(func() { close(w.stop) })
	<-w.loopDone
	done := make(chan struct{})
	go func() { w.inflight.Wait(); close(done) }()
	select {
	case <-done:
		w.cancel()
		return nil
	case <-ctx.Done():
		w.cancel()
		<-done
		return ctx.Err()
	}
}

func (w *Worker) loop() {
	defer close(w.loopDone)
	timer := time.NewTimer(0)
	defer timer.Stop()
	var pruned time.Time
	for {
		select {
		case <-w.stop:
			return
		case <-timer.C:
		case <-w.wake:
		}
		if w.opts.Retention > 0 && time.Since(pruned) >= w.opts.PruneEvery {
			pruned = time.Now()
			w.prune()
		}
		wait := w.opts.Poll
		if w.claim() > 0 {
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

func (w *Worker) prune() {
	n, err := w.opts.Store.PruneEvents(w.ctx, w.opts.Now().Add(-w.opts.Retention))
	if err != nil {
		w.log.Error("webhook: pruning events", "err", err)
	} else if n > 0 {
		w.log.Info("webhook: pruned old events", "events", n)
	}
}

// claim takes as many due deliveries as there are free slots (waiting
// for one when all are busy) and starts them; it returns how many.
func (w *Worker) claim() int {
	select {
	case w.slots <- struct{}{}:
	case <-w.stop:
		return 0
	}
	free := 1
	for free < cap(w.slots) {
		select {
		case w.slots <- struct{}{}:
			free++
			continue
		default:
		}
		break
	}
	ds, err := w.opts.Store.ClaimWebhookDeliveries(w.ctx, w.opts.Now(), w.opts.Lease, free)
	if err != nil && !errors.Is(err, context.Canceled) {
		w.log.Error("webhook: claiming deliveries", "err", err)
	}
	for range free - len(ds) {
		<-w.slots
	}
	for _, d := range ds {
		w.inflight.Add(1)
		go func() {
			defer func() { <-w.slots; w.inflight.Done() }()
			w.attempt(d)
		}()
	}
	return len(ds)
}

// attempt POSTs one delivery and records the result.
func (w *Worker) attempt(d store.WebhookDelivery) {
	log := w.log.With("delivery", d.ID, "event", d.Event.ID, "url", d.URL)
	res := store.WebhookResult{ID: d.ID, Lease: d.Lease}
	err := w.post(d)
	if err == nil || w.ctx.Err() == nil { // not when Shutdown cut it off
		w.opts.Metrics.Webhook(err == nil)
	}
	if err != nil {
		res.LastError = err.Error()
		now := w.opts.Now()
		if w.ctx.Err() != nil {
			// Shutdown cut it off: due again at once (after a restart).
			res.State, res.NextAttempt = store.WebhookPending, now
			log.Info("webhook: interrupted by shutdown")
		} else if now.Sub(d.Created) >= w.opts.GiveUp {
			res.State = store.WebhookFailed
			log.Warn("webhook: giving up", "attempts", d.Attempts+1, "err", err)
		} else {
			res.State = store.WebhookPending
			res.NextAttempt = now.Add(backoff(d.Attempts+1, w.opts.RetryMin, w.opts.RetryMax))
			log.Info("webhook: failed, will retry", "attempts", d.Attempts+1, "next", res.NextAttempt, "err", err)
		}
	} else {
		res.State = store.WebhookDelivered
		log.Debug("webhook: delivered")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := w.opts.Store.FinishWebhookDelivery(ctx, res); err != nil {
		log.Warn("webhook: recording the attempt", "err", err)
	}
}

// post sends the event; nil means a 2xx answer.
func (w *Worker) post(d store.WebhookDelivery) error {
	body, err := json.Marshal(d.Event)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(w.ctx, w.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	ts := w.opts.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "posthorn-webhook/1")
	req.Header.Set(HeaderEventID, d.Event.ID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(d.Secret, ts, body))
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// Read a little so the connection can be reused; keep the start for
	// the error.
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	if len(head) > 200 {
		head = head[:200]
	}
	return fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(head))
}

// backoff is the wait after the nth failed attempt: min doubling up to
// max.
func backoff(n int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	return min(d, hi)
}
