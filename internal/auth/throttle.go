package auth

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/posthorn/posthorn/internal/claimloop"
)

// ThrottleOptions slow down and then stop password guessing. Failures are
// counted per client IP address (IPv6 per /64, as one host usually has a
// whole /64) and per login name, each over a sliding Window. Every failure
// is answered only after a delay that doubles with each failure of the
// same IP or name (Delay, 2×Delay, 4×Delay, … at most MaxDelay). After
// MaxFailuresPerIP failures of one IP, or MaxFailuresPerAccount of one
// name, within Window, every login from that IP or for that name is
// refused for Window, the correct password included: a guesser learns
// nothing from an answer during the lockout. A successful login clears the
// name's count (not the IP's: one good account must not reset the count of
// a guesser behind the same address).
//
// The state is in memory and per process (a restart forgets it), or in a
// FailureStore shared by every node (Shared), so that N nodes do not give
// a guesser N times the attempts.
type ThrottleOptions struct {
	// Delay is the wait after the first failure (default 1s).
	Delay time.Duration
	// MaxDelay caps the doubling delay (default 8s).
	MaxDelay time.Duration
	// MaxFailuresPerIP is how many failures one client IP may make within
	// Window before it is locked out (default 20).
	MaxFailuresPerIP int
	// MaxFailuresPerAccount is the same for one login name (default 10).
	MaxFailuresPerAccount int
	// Window is how long failures are remembered and how long a lockout
	// lasts (default 15 min).
	Window time.Duration
	// Disabled turns throttling off (for benchmarks).
	Disabled bool
	// Shared, when set, keeps the failure records there instead of in
	// memory: every node of a cluster passes the same store.
	Shared FailureStore
}

// FailureStore keeps the throttle's failure records where every node sees
// them; the PostgreSQL store implements it. Keys are "ip:ADDRESS" (IPv6
// per /64) and "user:NAME". Only failures write: a successful login for a
// name without a record must cost no write (the store knows which names
// have records).
type FailureStore interface {
	// LoginLockouts returns, for each of keys in order, when its lockout
	// ends (zero when it is not locked out).
	LoginLockouts(ctx context.Context, keys []string) ([]time.Time, error)
	// AddLoginFailures counts one failure at now for each key, in one
	// atomic step, by the rules of ThrottleOptions: a key's count starts
	// afresh when its first failure is more than window old; the failure
	// that reaches the key's limit locks it out until now+window and
	// starts the count afresh. It returns each key's count with this
	// failure, and whether this failure locked it out.
	AddLoginFailures(ctx context.Context, now time.Time, window time.Duration, keys []FailureKey) ([]FailureCount, error)
	// ClearLoginFailures forgets key's failures (a successful login)
	// unless it is locked out at now.
	ClearLoginFailures(ctx context.Context, key string, now time.Time) error
}

// FailureKey is a key and the failures that lock it out.
type FailureKey struct {
	Key   string
	Limit int
}

// FailureCount is a key's count after a failure.
type FailureCount struct {
	Count  int  // failures within the window, this one included
	Locked bool // this failure locked the key out
}

// Throttle defaults.
const (
	DefaultThrottleDelay         = time.Second
	DefaultThrottleMaxDelay      = 8 * time.Second
	DefaultMaxFailuresPerIP      = 20
	DefaultMaxFailuresPerAccount = 10
	DefaultThrottleWindow        = 15 * time.Minute
)

func (o ThrottleOptions) withDefaults() ThrottleOptions {
	if o.Delay <= 0 {
		o.Delay = DefaultThrottleDelay
	}
	if o.MaxDelay < o.Delay {
		o.MaxDelay = max(DefaultThrottleMaxDelay, o.Delay)
	}
	if o.MaxFailuresPerIP <= 0 {
		o.MaxFailuresPerIP = DefaultMaxFailuresPerIP
	}
	if o.MaxFailuresPerAccount <= 0 {
		o.MaxFailuresPerAccount = DefaultMaxFailuresPerAccount
	}
	if o.Window <= 0 {
		o.Window = DefaultThrottleWindow
	}
	return o
}

// maxThrottleEntries bounds the memory of the throttle: beyond it, names
// that were never seen before are not tracked (their IP still is).
const maxThrottleEntries = 100000

// throttle is the failure bookkeeping behind ThrottleOptions.
type throttle struct {
	opts ThrottleOptions
	now  func() time.Time
	log  *slog.Logger
	down *claimloop.Outage // logs Shared's failures, one line per outage

	mu      sync.Mutex
	entries map[string]*failures
	ops     int // operations since the last sweep
}

// failures is the record of one IP or login name.
type failures struct {
	count       int
	first       time.Time // first failure of the current window
	lockedUntil time.Time
}

func newThrottle(opts ThrottleOptions, now func() time.Time, log *slog.Logger) *throttle {
	return &throttle{opts: opts.withDefaults(), now: now, log: log, entries: map[string]*failures{},
		down: claimloop.NewOutage(log, "auth: shared login failures (no throttling meanwhile)", 0)}
}

// ipKey groups IPv6 addresses by /64; nil (no IP) is one bucket.
func ipKey(ip net.IP) string {
	if ip == nil {
		return "ip:unknown"
	}
	if ip4 := ip.To4(); ip4 != nil {
		return "ip:" + ip4.String()
	}
	return "ip:" + ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

func userKey(user string) string { return "user:" + user }

// check returns a *ThrottledError when ip or user is locked out.
func (t *throttle) check(ctx context.Context, ip net.IP, user string) error {
	if t.opts.Disabled {
		return nil
	}
	now := t.now()
	var wait time.Duration
	if t.opts.Shared != nil {
		until, err := t.opts.Shared.LoginLockouts(ctx, []string{ipKey(ip), userKey(user)})
		if err != nil {
			// The store is down: so is the rest of the login, mostly.
			t.down.Fail(err)
			return nil
		}
		t.down.OK()
		for _, u := range until {
			wait = max(wait, u.Sub(now))
		}
	} else {
		t.mu.Lock()
		for _, k := range []string{ipKey(ip), userKey(user)} {
			if f := t.entries[k]; f != nil && now.Before(f.lockedUntil) {
				wait = max(wait, f.lockedUntil.Sub(now))
			}
		}
		t.mu.Unlock()
	}
	if wait > 0 {
		return &ThrottledError{RetryAfter: wait}
	}
	return nil
}

// fail records a failed login and returns how long to delay its answer
// and whether it started a lockout.
func (t *throttle) fail(ctx context.Context, ip net.IP, user string) (delay time.Duration, locked bool) {
	if t.opts.Disabled {
		return 0, false
	}
	now := t.now()
	if t.opts.Shared != nil {
		return t.failShared(ctx, now, ip, user)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.maybeSweep(now)
	for _, kl := range []struct {
		key   string
		limit int
	}{{ipKey(ip), t.opts.MaxFailuresPerIP}, {userKey(user), t.opts.MaxFailuresPerAccount}} {
		f := t.entries[kl.key]
		if f == nil {
			if len(t.entries) >= maxThrottleEntries && kl.key[0] == 'u' {
				continue
			}
			f = &failures{}
			t.entries[kl.key] = f
		}
		if f.count == 0 || now.Sub(f.first) > t.opts.Window {
			f.count, f.first = 0, now
		}
		f.count++
		delay = max(delay, t.delay(f.count))
		if f.count >= kl.limit {
			f.lockedUntil = now.Add(t.opts.Window)
			f.count = 0 // counting starts afresh after the lockout
			locked = true
		}
	}
	return delay, locked
}

// delay is the wait after the count-th failure of a key.
func (t *throttle) delay(count int) time.Duration {
	d := t.opts.MaxDelay
	if shift := count - 1; shift < 16 && t.opts.Delay<<shift < d {
		d = t.opts.Delay << shift
	}
	return d
}

// failShared is fail with the records in Shared. When the store fails,
// the answer waits MaxDelay.
func (t *throttle) failShared(ctx context.Context, now time.Time, ip net.IP, user string) (delay time.Duration, locked bool) {
	counts, err := t.opts.Shared.AddLoginFailures(ctx, now, t.opts.Window, []FailureKey{
		{ipKey(ip), t.opts.MaxFailuresPerIP}, {userKey(user), t.opts.MaxFailuresPerAccount}})
	if err != nil {
		t.down.Fail(err)
		return t.opts.MaxDelay, false
	}
	t.down.OK()
	for _, c := range counts {
		delay = max(delay, t.delay(c.Count))
		locked = locked || c.Locked
	}
	return delay, locked
}

// success clears the failures of a login name.
func (t *throttle) success(ctx context.Context, user string) {
	if t.opts.Disabled {
		return
	}
	if t.opts.Shared != nil {
		if err := t.opts.Shared.ClearLoginFailures(ctx, userKey(user), t.now()); err != nil {
			t.log.Warn("auth: clearing login failures in the store", "user", user, "err", err)
		}
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if f := t.entries[userKey(user)]; f != nil && !t.now().Before(f.lockedUntil) {
		delete(t.entries, userKey(user))
	}
}

// maybeSweep drops expired records now and then. Must hold mu.
func (t *throttle) maybeSweep(now time.Time) {
	t.ops++
	if t.ops < 1024 && len(t.entries) < maxThrottleEntries {
		return
	}
	t.ops = 0
	for k, f := range t.entries {
		if !now.Before(f.lockedUntil) && now.Sub(f.first) > t.opts.Window {
			delete(t.entries, k)
		}
	}
}
