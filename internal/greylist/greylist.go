// Package greylist implements greylisting (RFC 6647): the first delivery
// attempt of an unknown (client network, sender, recipient) triplet is
// refused with a temporary error; a real MTA retries after some minutes
// and is let in, while much bulk-sending software never retries.
//
// The client is counted by its /24 (IPv4) or /64 (IPv6), since large
// senders retry from another address of the same pool (RFC 6647 §4.1).
// A retry is accepted between Delay and Window after the first attempt;
// later it starts over. A triplet that passed is remembered for Expiry
// after its last message, and its client network is then let in for any
// sender and recipient for as long (RFC 6647 §4.2 "auto-allowlisting"),
// so a known correspondent is delayed once at most.
//
// Where the state lives (see Options):
//
//   - In memory, appended one line per change to a file in the data
//     directory (file.go), replayed at Open and compacted (expired
//     entries dropped) then. It is not fsync'd: losing the last changes
//     in a crash only delays some mail once more. This is the embedded
//     store's setup: one node.
//   - In a Shared store that every node reads and writes (shared.go; the
//     PostgreSQL store implements it), so a sender whose retry reaches
//     another node behind the load balancer is not greylisted again.
//     One round trip per RCPT of an unknown network; a network known to
//     have passed is remembered by the node for a few minutes.
//
// The number of triplets is bounded (MaxEntries); when full, new triplets
// are let in rather than remembered, so an attacker filling the table
// cannot block mail.
package greylist

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/posthorn/posthorn/internal/clientnet"
)

// Options configure a List. Zero durations take the defaults.
type Options struct {
	// Path is the state file; "" keeps the state in memory only. Unused
	// with Shared.
	Path string
	// Shared, when set, keeps the state there instead of in memory and
	// Path: every node of a cluster passes the same store.
	Shared Shared
	// Logger receives the errors of Shared (the attempt is then let in).
	// Nil discards.
	Logger *slog.Logger
	// Delay is how long a sender must wait before a retry is accepted
	// (default 5 minutes; RFC 6647 §4.2 discusses 1 to 25 minutes).
	Delay time.Duration
	// Window is how long after the first attempt a retry is still
	// accepted (default 2 days, less than a typical sender's queue
	// lifetime).
	Window time.Duration
	// Expiry is how long a passed triplet and its client network are
	// remembered after their last message (default 35 days, so monthly
	// mail stays known).
	Expiry time.Duration
	// MaxEntries bounds the table (default 200,000).
	MaxEntries int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// List is the greylisting state; safe for concurrent use.
type List struct {
	opts   Options
	file   *fileState   // nil with Shared
	shared *sharedState // nil without
}

// Open loads the state file (creating it), or prepares the shared state,
// and returns the List.
func Open(opts Options) (*List, error) {
	if opts.Delay <= 0 {
		opts.Delay = 5 * time.Minute
	}
	if opts.Window <= 0 {
		opts.Window = 48 * time.Hour
	}
	if opts.Expiry <= 0 {
		opts.Expiry = 35 * 24 * time.Hour
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = 200_000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	l := &List{opts: opts}
	if opts.Shared != nil {
		l.shared = newSharedState(opts)
		return l, nil
	}
	var err error
	l.file, err = openFileState(opts)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// Close closes the state file, or waits for a sweep of the shared state
// that is under way.
func (l *List) Close() error {
	if l.shared != nil {
		l.shared.close()
		return nil
	}
	return l.file.close()
}

// Allow records an attempt to deliver from sender to rcpt by a client at ip
// and reports whether to accept it now.
func (l *List) Allow(ctx context.Context, ip netip.Addr, sender, rcpt string) bool {
	n := clientnet.Of(ip)
	sender, rcpt = strings.ToLower(sender), strings.ToLower(rcpt)
	if l.shared != nil {
		return l.shared.allow(ctx, n, sender, rcpt)
	}
	return l.file.allow(n, sender, rcpt)
}

// Rules are the durations that decide an attempt (see Options).
type Rules struct {
	Delay, Window, Expiry time.Duration
	// Touch is how stale a remembered "last seen" time may get before a
	// message writes it again: expiry counts in weeks, so once a day
	// is precise enough and keeps a known sender's mail from writing.
	Touch time.Duration
}

// touchEvery is Rules.Touch.
const touchEvery = 24 * time.Hour

func (o Options) rules() Rules {
	return Rules{Delay: o.Delay, Window: o.Window, Expiry: o.Expiry, Touch: touchEvery}
}
