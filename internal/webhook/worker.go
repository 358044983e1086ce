package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/posthorn/posthorn/internal/claimloop"
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
	loop   *claimloop.Loop[store.WebhookDelivery]
	pruned time.Time // the last pruning, touched by the claim loop only
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
	w := &Worker{opts: opts, log: opts.Logger, client: opts.Client}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.client == nil {
		w.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	w.loop = claimloop.New(claimloop.Options[store.WebhookDelivery]{Slots: opts.Concurrency, Poll: opts.Poll,
		Claim: w.claim, Run: w.attempt, What: "webhook: claiming deliveries", Logger: w.log})
	return w
}

// Start starts the claim loop and the pruning.
func (w *Worker) Start() { w.loop.Start() }

// Wake makes the worker look at the outbox now.
func (w *Worker) Wake() { w.loop.Wake() }

// Shutdown stops claiming and waits for the POSTs in flight until ctx
// ends; then they are cancelled and recorded as due at once.
func (w *Worker) Shutdown(ctx context.Context) error { return w.loop.Shutdown(ctx) }

// claim prunes old events when it is time, then leases up to n due
// deliveries.
func (w *Worker) claim(ctx context.Context, n int) ([]store.WebhookDelivery, error) {
	if w.opts.Retention > 0 && time.Since(w.pruned) >= w.opts.PruneEvery {
		w.pruned = time.Now()
		if removed, err := w.opts.Store.PruneEvents(ctx, w.opts.Now().Add(-w.opts.Retention)); err != nil {
			w.log.Error("webhook: pruning events", "err", err)
		} else if removed > 0 {
			w.log.Info("webhook: pruned old events", "events", removed)
		}
	}
	return w.opts.Store.ClaimWebhookDeliveries(ctx, w.opts.Now(), w.opts.Lease, n)
}

// attempt POSTs one delivery and records the result.
func (w *Worker) attempt(ctx context.Context, d store.WebhookDelivery) {
	log := w.log.With("delivery", d.ID, "event", d.Event.ID, "url", d.URL)
	res := store.WebhookResult{ID: d.ID, Lease: d.Lease}
	err := w.post(ctx, d)
	if err == nil || ctx.Err() == nil { // not when Shutdown cut it off
		w.opts.Metrics.Webhook(err == nil)
	}
	if err != nil {
		res.LastError = err.Error()
		now := w.opts.Now()
		if ctx.Err() != nil {
			// Shutdown cut it off: due again at once (after a restart).
			res.State, res.NextAttempt = store.WebhookPending, now
			log.Info("webhook: interrupted by shutdown")
		} else if now.Sub(d.Created) >= w.opts.GiveUp {
			res.State = store.WebhookFailed
			log.Warn("webhook: giving up", "attempts", d.Attempts+1, "err", err)
		} else {
			res.State = store.WebhookPending
			res.NextAttempt = now.Add(claimloop.Backoff(d.Attempts+1, w.opts.RetryMin, w.opts.RetryMax))
			log.Info("webhook: failed, will retry", "attempts", d.Attempts+1, "next", res.NextAttempt, "err", err)
		}
	} else {
		res.State = store.WebhookDelivered
		log.Debug("webhook: delivered")
	}
	rctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := w.opts.Store.FinishWebhookDelivery(rctx, res); err != nil {
		log.Warn("webhook: recording the attempt", "err", err)
	}
}

// post sends the event; nil means a 2xx answer.
func (w *Worker) post(ctx context.Context, d store.WebhookDelivery) error {
	body, err := json.Marshal(d.Event)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
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
