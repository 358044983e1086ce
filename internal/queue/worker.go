package queue

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/posthorn/posthorn/internal/claimloop"
	"github.com/posthorn/posthorn/internal/delivery"
	"github.com/posthorn/posthorn/internal/metrics"
	"github.com/posthorn/posthorn/internal/smtpclient"
	"github.com/posthorn/posthorn/internal/store"
)

// Deliverer makes one delivery attempt to one domain's recipients
// (*delivery.Deliverer).
type Deliverer interface {
	Deliver(ctx context.Context, domain string, env smtpclient.Envelope, body []byte) []delivery.Outcome
}

// Options configure a Worker. Zero durations take the defaults shown.
type Options struct {
	Store     store.Store
	Deliverer Deliverer
	// Hostname is the Reporting-MTA of notifications.
	Hostname string
	// SubaddressSeparator resolves local senders of notifications.
	SubaddressSeparator string
	// Node names this worker's node in the leases it takes
	// (store.QueuedMessage.LeaseHolder).
	Node string
	// Lease is how long a claim lasts unless renewed (1m). The worker
	// renews it every Lease/3 while the attempt runs (store.RenewLease),
	// so a message is taken over by another worker only after its
	// worker stopped renewing (died, or lost the database) for a Lease;
	// an attempt whose lease ran out unrenewed is stopped.
	Lease time.Duration
	// AttemptTimeout bounds one attempt, which is cut off after it
	// (10m); it may be longer than Lease.
	AttemptTimeout time.Duration
	// RetryMin, RetryMax bound the backoff between attempts (5m, 4h).
	RetryMin, RetryMax time.Duration
	// GiveUp is how long a recipient may stay pending (5 days).
	GiveUp time.Duration
	// DelayWarning, when positive, tells the sender once that a message
	// has waited this long.
	DelayWarning time.Duration
	// MaxInFlight is how many messages are tried at once (100).
	MaxInFlight int
	// Poll is how often the queue is checked when idle (1s); Wake checks
	// at once.
	Poll   time.Duration
	Logger *slog.Logger
	// Now is the clock (time.Now).
	Now func() time.Time
	// Metrics counts recipients delivered, deferred and bounced, and the
	// delivery latency; nil counts nothing.
	Metrics *metrics.Registry
	// Signer, when set, DKIM-signs notifications for Hostname's domain or
	// the nearest parent domain with keys, up to the organizational
	// domain (DMARC relaxed alignment with MAILER-DAEMON@Hostname).
	// Without a key they go unsigned, logged once.
	Signer Signer
}

// Worker runs delivery attempts until Shutdown.
type Worker struct {
	opts   Options
	log    *slog.Logger
	now    func() time.Time
	signer *dsnSigner // nil without Options.Signer

	loop *claimloop.Loop[store.QueuedMessage]
	// renewals logs failed lease renewals of every attempt as one outage.
	renewals *claimloop.Outage
}

// New returns a worker; Start runs it.
func New(opts Options) *Worker {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.Lease, time.Minute)
	def(&opts.RetryMin, 5*time.Minute)
	def(&opts.RetryMax, 4*time.Hour)
	def(&opts.GiveUp, 5*24*time.Hour)
	def(&opts.Poll, time.Second)
	def(&opts.AttemptTimeout, 10*time.Minute)
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 100
	}
	if opts.RetryMax < opts.RetryMin {
		opts.RetryMax = opts.RetryMin
	}
	w := &Worker{opts: opts, log: opts.Logger, now: opts.Now}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.now == nil {
		w.now = time.Now
	}
	w.signer = newDSNSigner(opts.Signer, opts.Hostname, w.log)
	w.renewals = claimloop.NewOutage(w.log, "queue: renewing leases", 0)
	w.loop = claimloop.New(claimloop.Options[store.QueuedMessage]{Slots: opts.MaxInFlight, Poll: opts.Poll,
		Claim: w.claim, Run: w.attempt, What: "queue: claiming messages", Logger: w.log})
	return w
}

// Start starts the claim loop.
func (w *Worker) Start() { w.loop.Start() }

// Wake makes the worker look at the queue now (after an Enqueue).
func (w *Worker) Wake() { w.loop.Wake() }

// Shutdown stops claiming messages and waits for the attempts in flight;
// when ctx ends first they are cancelled (their recipients stay pending)
// and waited for.
func (w *Worker) Shutdown(ctx context.Context) error { return w.loop.Shutdown(ctx) }

// claim leases up to n due messages.
func (w *Worker) claim(ctx context.Context, n int) ([]store.QueuedMessage, error) {
	return w.opts.Store.ClaimQueued(ctx, w.now(), w.opts.Lease, n, w.opts.Node)
}

// attempt tries one claimed message and records the outcome.
func (w *Worker) attempt(ctx context.Context, m store.QueuedMessage) {
	ctx, cancel := context.WithTimeout(ctx, w.opts.AttemptTimeout)
	defer cancel()
	log := w.log.With("queue_id", m.ID)
	stopRenewing := w.keepLease(m, cancel, log)
	defer stopRenewing()
	body, err := w.opts.Store.QueuedBody(ctx, m.ID)
	if err != nil {
		log.Error("queue: reading message", "err", err)
		return // the lease runs out and the message is tried again
	}

	// One delivery per destination domain, in parallel.
	byDomain := map[string][]int{}
	var order []string
	for i, rcpt := range m.Recipients {
		d := strings.ToLower(rcpt[strings.LastIndexByte(rcpt, '@')+1:])
		if _, ok := byDomain[d]; !ok {
			order = append(order, d)
		}
		byDomain[d] = append(byDomain[d], i)
	}
	outs := make([]delivery.Outcome, len(m.Recipients))
	var wg sync.WaitGroup
	for _, d := range order {
		idx := byDomain[d]
		to := make([]string, len(idx))
		for j, i := range idx {
			to[j] = m.Recipients[i]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := w.opts.Deliverer.Deliver(ctx, d, smtpclient.Envelope{From: m.From, To: to, UTF8: m.UTF8, RequireTLS: m.RequireTLS}, body)
			for j, i := range idx {
				outs[i] = res[j]
			}
		}()
	}
	wg.Wait()
	w.finish(m, body, outs, log, stopRenewing)
}

// keepLease renews m's lease every Lease/3, to Lease from then, until
// the returned stop is called (before the attempt is recorded, which
// ends the lease; stop may be called again). When the lease is lost (it
// ran out and another worker claimed the message, or the message was
// removed) it cancels the attempt with cancel: the message is someone
// else's now. Other errors (the database briefly unreachable) are
// logged as an outage shared by every attempt (w.renewals) and the next
// renewal tried, until the lease's end has passed unrenewed: then
// another node may have claimed the message, and the attempt is
// cancelled too.
func (w *Worker) keepLease(m store.QueuedMessage, cancel context.CancelFunc, log *slog.Logger) (stop func()) {
	ctx, stopRenewing := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(w.opts.Lease / 3)
		defer tick.Stop()
		ends := m.NextAttempt // a claimed message's NextAttempt is its lease's end
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			until := w.now().Add(w.opts.Lease)
			err := w.opts.Store.RenewLease(ctx, m.ID, m.Lease, until)
			switch {
			case err == nil:
				ends = until
				w.renewals.OK()
			case errors.Is(err, store.ErrLeaseLost):
				log.Warn("queue: lease lost during the attempt; stopping it", "err", err)
				cancel()
				return
			case ctx.Err() != nil:
				return
			case !w.now().Before(ends):
				w.renewals.Fail(err)
				log.Warn("queue: the lease ran out before it could be renewed; stopping the attempt")
				cancel()
				return
			default:
				w.renewals.Fail(err)
			}
		}
	}()
	return func() {
		stopRenewing()
		<-done
	}
}

// finish turns outcomes into recipient states, notifications and the
// next attempt; stopRenewing is called before the attempt is recorded.
func (w *Worker) finish(m store.QueuedMessage, body []byte, outs []delivery.Outcome, log *slog.Logger, stopRenewing func()) {
	now := w.now()
	expired := now.Sub(m.Queued) >= w.opts.GiveUp
	a := store.Attempt{ID: m.ID, Lease: m.Lease}
	var failed, delayed []dsnRecipient
	for i, rcpt := range m.Recipients {
		o := outs[i]
		st := store.RecipientStatus{Address: rcpt, Reply: o.Reply.String()}
		switch {
		case o.Reply.Code/100 == 2:
			st.State = store.RecipientDelivered
			log.Info("queue: delivered", "rcpt", rcpt, "host", o.Host, "reply", st.Reply)
		case o.Reply.Permanent() || expired:
			st.State = store.RecipientFailed
			if !o.Reply.Permanent() { // the bounced event's reason
				st.Reply = "gave up after " + now.Sub(m.Queued).Round(time.Second).String() + " in the queue: " + st.Reply
			}
			failed = append(failed, dsnRecipient{Address: rcpt, Reply: o.Reply, RemoteMTA: o.Host, Expired: !o.Reply.Permanent()})
			log.Warn("queue: failed", "rcpt", rcpt, "host", o.Host, "reply", st.Reply, "expired", !o.Reply.Permanent())
		default:
			st.State = store.RecipientPending
			a.LastError = st.Reply
			delayed = append(delayed, dsnRecipient{Address: rcpt, Reply: o.Reply, RemoteMTA: o.Host, Delayed: true})
			log.Info("queue: deferred", "rcpt", rcpt, "host", o.Host, "reply", st.Reply)
		}
		a.Results = append(a.Results, st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if len(failed) > 0 && m.From != "" {
		if err := w.notify(ctx, m, body, failed, now); err != nil {
			// Keep them pending: the next attempt fails them again and
			// tries the notification again.
			log.Error("queue: sending a bounce", "err", err)
			for i := range a.Results {
				if a.Results[i].State == store.RecipientFailed {
					a.Results[i].State = store.RecipientPending
				}
			}
		}
	}
	if len(delayed) > 0 && w.opts.DelayWarning > 0 && !m.Warned && m.From != "" && now.Sub(m.Queued) >= w.opts.DelayWarning {
		if err := w.notify(ctx, m, body, delayed, now); err != nil {
			log.Error("queue: sending a delay warning", "err", err)
		} else {
			a.Warned = true
		}
	}
	a.NextAttempt = now.Add(claimloop.Backoff(m.Attempts+1, w.opts.RetryMin, w.opts.RetryMax))
	stopRenewing()
	if err := w.opts.Store.FinishAttempt(ctx, a); err != nil {
		if errors.Is(err, store.ErrLeaseLost) {
			log.Warn("queue: lease lost; the attempt's results are dropped", "err", err)
			return
		}
		log.Error("queue: recording the attempt", "err", err)
		return
	}
	w.count(m, a, now)
}

// count adds a recorded attempt's recipients to the metrics.
func (w *Worker) count(m store.QueuedMessage, a store.Attempt, now time.Time) {
	mt := w.opts.Metrics
	for _, r := range a.Results {
		switch r.State {
		case store.RecipientDelivered:
			mt.Delivered(now.Sub(m.Queued))
		case store.RecipientFailed:
			mt.Bounced()
		default:
			mt.Deferred()
		}
	}
}

// notify sends a delivery status notification to m's sender.
func (w *Worker) notify(ctx context.Context, m store.QueuedMessage, body []byte, rcpts []dsnRecipient, now time.Time) error {
	queued, err := sendDSN(ctx, w.opts.Store, w.opts.Hostname, w.opts.SubaddressSeparator, m, body, rcpts, now, w.log, w.signer)
	if queued {
		w.Wake()
	}
	return err
}

var _ Deliverer = (*delivery.Deliverer)(nil)
