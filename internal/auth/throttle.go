package auth

import (
	"net"
	"sync"
	"time"
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
// The state is in memory and per process: a restart forgets it.
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

func newThrottle(opts ThrottleOptions, now func() time.Time) *throttle {
	return &throttle{opts: opts.withDefaults(), now: now, entries: map[string]*failures{}}
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
func (t *throttle) check(ip net.IP, user string) error {
	if t.opts.Disabled {
		return nil
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	var wait time.Duration
	for _, k := range []string{ipKey(ip), userKey(user)} {
		if f := t.entries[k]; f != nil && now.Before(f.lockedUntil) {
			wait = max(wait, f.lockedUntil.Sub(now))
		}
	}
	if wait > 0 {
		return &ThrottledError{RetryAfter: wait}
	}
	return nil
}

// fail records a failed login and returns how long to delay its answer
// and whether it started a lockout.
func (t *throttle) fail(ip net.IP, user string) (delay time.Duration, locked bool) {
	if t.opts.Disabled {
		return 0, false
	}
	now := t.now()
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
		d := t.opts.MaxDelay
		if shift := f.count - 1; shift < 16 && t.opts.Delay<<shift < d {
			d = t.opts.Delay << shift
		}
		delay = max(delay, d)
		if f.count >= kl.limit {
			f.lockedUntil = now.Add(t.opts.Window)
			f.count = 0 // counting starts afresh after the lockout
			locked = true
		}
	}
	return delay, locked
}

// success clears the failures of a login name.
func (t *throttle) success(user string) {
	if t.opts.Disabled {
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
