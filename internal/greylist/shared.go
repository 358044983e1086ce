package greylist

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"github.com/posthorn/posthorn/internal/claimloop"
)

// Shared keeps greylisting state where every node sees it: the PostgreSQL
// store implements it. The daemon passes it in Options.Shared when its
// store does.
type Shared interface {
	// Greylist decides one attempt by the rules of the package comment,
	// reading and recording the state in one atomic step, so that nodes
	// deciding attempts of one triplet at once agree.
	Greylist(ctx context.Context, a Attempt) (Verdict, error)
	// SweepGreylist deletes the triplets and networks that expired by
	// now under r and returns how many triplets remain.
	SweepGreylist(ctx context.Context, now time.Time, r Rules) (triplets int, err error)
}

// Attempt is one RCPT to decide.
type Attempt struct {
	Net               netip.Prefix // the client's network (clientnet.Of)
	Sender, Recipient string       // in lower case
	Now               time.Time
	Rules             Rules
	// Full says the table is at Options.MaxEntries: a triplet not yet
	// in it is let in (NotRemembered) rather than recorded.
	Full bool
}

// Verdict is the outcome of an Attempt.
type Verdict int

// Verdicts; Accepted tells which let the message in.
const (
	// FirstSeen: refused; the triplet's first attempt (of a new round,
	// after Window or Expiry ran out) is now recorded.
	FirstSeen Verdict = iota + 1
	// TooSoon: refused; retried before Delay.
	TooSoon
	// Passed: accepted; retried within Window after Delay. The triplet
	// and its network are now known.
	Passed
	// KnownNetwork: accepted; the client's network passed within Expiry.
	KnownNetwork
	// NotRemembered: accepted; a new triplet while the table is full.
	NotRemembered
)

// Accepted reports whether the attempt is let in now.
func (v Verdict) Accepted() bool { return v >= Passed }

// Timings of the shared state (vars for tests).
var (
	// netCacheFor is how long a node lets a network in that the store
	// said is known, without asking again. A network is known for weeks
	// (Expiry), so this can at most stretch an expiry by as much.
	netCacheFor = 5 * time.Minute
	// sweepEvery is how often a node deletes expired entries and counts
	// the triplets; sweepWhenFull how often while the table is full.
	sweepEvery    = 10 * time.Minute
	sweepWhenFull = time.Minute
)

// netCacheMax bounds the node's cache of known networks.
const netCacheMax = 10_000

// sharedTimeout bounds one call to the store: an RCPT waits no longer
// (and is then let in).
const sharedTimeout = 10 * time.Second

// sharedState is the List of a cluster node: the state in Shared, with
// known networks cached briefly and the table's size estimated from the
// last sweep plus the triplets this node has added since (other nodes'
// additions show at the next sweep, so with N nodes the bound is
// approximate).
type sharedState struct {
	down  *claimloop.Outage // logs the store's failures
	opts  Options
	store Shared

	mu        sync.Mutex
	nets      map[netip.Prefix]time.Time // known networks: cached until
	count     int                        // triplets in the store (estimate)
	lastSweep time.Time                  // zero: none yet
	sweeping  bool
	closed    bool
	sweeps    sync.WaitGroup
}

func newSharedState(opts Options) *sharedState {
	return &sharedState{opts: opts, store: opts.Shared, nets: map[netip.Prefix]time.Time{},
		down: claimloop.NewOutage(opts.Logger, "greylist: shared state (messages are let in meanwhile)", 0)}
}

func (s *sharedState) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.sweeps.Wait()
}

func (s *sharedState) allow(ctx context.Context, n netip.Prefix, sender, rcpt string) bool {
	now := s.opts.Now()
	s.mu.Lock()
	if until, ok := s.nets[n]; ok && now.Before(until) {
		s.mu.Unlock()
		return true
	}
	full := s.count >= s.opts.MaxEntries
	s.maybeSweep(now, full)
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, sharedTimeout)
	defer cancel()
	v, err := s.store.Greylist(ctx, Attempt{Net: n, Sender: sender, Recipient: rcpt, Now: now, Rules: s.opts.rules(), Full: full})
	if err != nil {
		s.down.Fail(err) // one line per outage, not one per RCPT
		return true
	}
	s.down.OK()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch v {
	case Passed, KnownNetwork:
		s.remember(n, now.Add(netCacheFor))
	case FirstSeen:
		s.count++
	}
	return v.Accepted()
}

// remember caches known network n until then. Called with mu held.
func (s *sharedState) remember(n netip.Prefix, until time.Time) {
	if len(s.nets) >= netCacheMax {
		now := s.opts.Now()
		for k, u := range s.nets {
			if !now.Before(u) {
				delete(s.nets, k)
			}
		}
		if len(s.nets) >= netCacheMax {
			return
		}
	}
	s.nets[n] = until
}

// maybeSweep starts a sweep in the background when one is due: at the
// first attempt, every sweepEvery, and every sweepWhenFull while full.
// Called with mu held.
func (s *sharedState) maybeSweep(now time.Time, full bool) {
	if s.sweeping || s.closed {
		return
	}
	since := now.Sub(s.lastSweep)
	if !s.lastSweep.IsZero() && since < sweepEvery && (!full || since < sweepWhenFull) {
		return
	}
	s.sweeping, s.lastSweep = true, now
	s.sweeps.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		n, err := s.store.SweepGreylist(ctx, now, s.opts.rules())
		s.mu.Lock()
		defer s.mu.Unlock()
		s.sweeping = false
		if err != nil {
			s.opts.Logger.Warn("greylist: deleting expired entries", "err", err)
			return
		}
		s.count = n
	})
}
