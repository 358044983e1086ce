package auth

import (
	"context"
	"log/slog"
	"net"
	"strings"
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
	// MaxRecords bounds the failure records, in memory or in Shared
	// (default 100,000; see FailureStore for what happens when full).
	MaxRecords int
}

// FailureStore keeps the throttle's failure records: in memory for one
// process (the default), or where every node sees them (the PostgreSQL
// store implements it). Keys are "ip:ADDRESS" (IPv6 per /64) and
// "user:NAME". Only failures write: a successful login for a name without
// a record must cost no write (the store knows which names have records).
//
// The records are bounded: at most maxRecords of them, plus the two
// overflow records (OverflowKey), whatever the number of IPs and names
// failing between cleanups. A failure of a key without a record while
// the store is full takes the place of a record that is not locked out
// (never locked out with the oldest first failure, or whose lockout ended
// first), whose count is lost (a guesser of that key gets up to its limit
// of fresh tries); a lockout is never dropped. When every record is
// locked out, the failure is counted under the overflow record of the
// key's kind, with the key's limit, and LoginLockouts reports that
// record's lockout for every key of the kind without a record of its
// own: a flood of new keys still ends in a lockout, at worst of every IP
// or name that has no record, until the window ends.
type FailureStore interface {
	// LoginLockouts returns, for each of keys in order, when its lockout
	// ends (zero when it is not locked out); for a key without a record,
	// its overflow record's lockout.
	LoginLockouts(ctx context.Context, keys []string) ([]time.Time, error)
	// AddLoginFailures counts one failure at now for each key, in one
	// atomic step, by the rules of ThrottleOptions: a key's count starts
	// afresh when its first failure is more than window old; the failure
	// that reaches the key's limit locks it out until now+window and
	// starts the count afresh. It keeps at most maxRecords records (see
	// above). It returns each key's count with this failure (or its
	// overflow record's), and whether this failure locked it out.
	AddLoginFailures(ctx context.Context, now time.Time, window time.Duration, maxRecords int, keys []FailureKey) ([]FailureCount, error)
	// ClearLoginFailures forgets key's failures (a successful login)
	// unless it is locked out at now.
	ClearLoginFailures(ctx context.Context, key string, now time.Time) error
}

// OverflowKey is the record under which the failures of key are counted
// when the FailureStore is full: "overflow:ip" or "overflow:user", which
// no IP or name key can be.
func OverflowKey(key string) string {
	kind, _, _ := strings.Cut(key, ":")
	return "overflow:" + kind
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
	DefaultMaxFailureRecords     = 100_000
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
	if o.MaxRecords <= 0 {
		o.MaxRecords = DefaultMaxFailureRecords
	}
	return o
}

// throttle is the failure bookkeeping behind ThrottleOptions.
type throttle struct {
	opts   ThrottleOptions
	now    func() time.Time
	log    *slog.Logger
	store  FailureStore      // opts.Shared, or memoryFailures
	shared bool              // store is opts.Shared
	down   *claimloop.Outage // logs Shared's failures, one line per outage
}

func newThrottle(opts ThrottleOptions, now func() time.Time, log *slog.Logger) *throttle {
	t := &throttle{opts: opts.withDefaults(), now: now, log: log, store: opts.Shared, shared: opts.Shared != nil,
		down: claimloop.NewOutage(log, "auth: shared login failures (no throttling meanwhile)", 0)}
	if !t.shared {
		t.store = newMemoryFailures()
	}
	return t
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
	until, err := t.store.LoginLockouts(ctx, []string{ipKey(ip), userKey(user)})
	if err != nil {
		// The store is down: so is the rest of the login, mostly.
		t.down.Fail(err)
		return nil
	}
	if t.shared {
		t.down.OK()
	}
	var wait time.Duration
	for _, u := range until {
		wait = max(wait, u.Sub(now))
	}
	if wait > 0 {
		return &ThrottledError{RetryAfter: wait}
	}
	return nil
}

// fail records a failed login and returns how long to delay its answer
// and whether it started a lockout. When the store fails, the answer
// waits MaxDelay.
func (t *throttle) fail(ctx context.Context, ip net.IP, user string) (delay time.Duration, locked bool) {
	if t.opts.Disabled {
		return 0, false
	}
	counts, err := t.store.AddLoginFailures(ctx, t.now(), t.opts.Window, t.opts.MaxRecords, []FailureKey{
		{ipKey(ip), t.opts.MaxFailuresPerIP}, {userKey(user), t.opts.MaxFailuresPerAccount}})
	if err != nil {
		t.down.Fail(err)
		return t.opts.MaxDelay, false
	}
	if t.shared {
		t.down.OK()
	}
	for _, c := range counts {
		delay = max(delay, t.delay(c.Count))
		locked = locked || c.Locked
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

// success clears the failures of a login name.
func (t *throttle) success(ctx context.Context, user string) {
	if t.opts.Disabled {
		return
	}
	if err := t.store.ClearLoginFailures(ctx, userKey(user), t.now()); err != nil {
		t.log.Warn("auth: clearing login failures in the store", "user", user, "err", err)
	}
}
