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
// State is kept in memory and appended, one line per change, to a file in
// the data directory, replayed at Open and compacted (expired entries
// dropped) then. It is not fsync'd: losing the last changes in a crash
// only delays some mail once more. The number of entries is bounded
// (MaxEntries); when full, new triplets are let in rather than remembered,
// so an attacker filling the table cannot block mail.
package greylist

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/posthorn/posthorn/internal/clientnet"
)

// Options configure a List. Zero durations take the defaults.
type Options struct {
	// Path is the state file; "" keeps the state in memory only.
	Path string
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
	opts Options

	mu      sync.Mutex
	triples map[string]*entry
	nets    map[netip.Prefix]time.Time // client networks that passed: last seen
	file    *os.File                   // append log, nil for memory only
}

type entry struct {
	first  time.Time // first attempt of the current round
	last   time.Time // last accepted message (zero until passed)
	passed bool
}

// Open loads the state file (creating it) and returns the List.
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
	l := &List{opts: opts, triples: map[string]*entry{}, nets: map[netip.Prefix]time.Time{}}
	if opts.Path == "" {
		return l, nil
	}
	if err := l.load(); err != nil {
		return nil, err
	}
	if err := l.compact(); err != nil {
		return nil, err
	}
	return l, nil
}

// Close closes the state file.
func (l *List) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file == nil {
		return nil
	}
	err := l.file.Close()
	l.file = nil
	return err
}

// Allow records an attempt to deliver from sender to rcpt by a client at ip
// and reports whether to accept it now.
func (l *List) Allow(ip netip.Addr, sender, rcpt string) bool {
	now := l.opts.Now()
	n := clientnet.Of(ip)
	key := n.String() + " " + strings.ToLower(sender) + " " + strings.ToLower(rcpt)
	l.mu.Lock()
	defer l.mu.Unlock()
	if last, ok := l.nets[n]; ok && now.Sub(last) < l.opts.Expiry {
		l.seen(n, last, now)
		return true
	}
	e := l.triples[key]
	switch {
	case e == nil || (e.passed && now.Sub(e.last) >= l.opts.Expiry) || (!e.passed && now.Sub(e.first) >= l.opts.Window):
		if e == nil && len(l.triples) >= l.opts.MaxEntries {
			l.sweep(now)
			if len(l.triples) >= l.opts.MaxEntries {
				return true // full: fail open
			}
		}
		l.triples[key] = &entry{first: now}
		l.log("F", key, now)
		return false
	case !e.passed && now.Sub(e.first) < l.opts.Delay:
		return false
	}
	if !e.passed || now.Sub(e.last) >= logEvery {
		l.log("P", key, now)
	}
	e.passed, e.last = true, now
	l.seen(n, l.nets[n], now)
	return true
}

// logEvery is how often a known entry's "last seen" is written to the
// file: its expiry is counted in weeks, so once a day is precise enough and
// keeps the file from growing by a line per message.
const logEvery = 24 * time.Hour

// seen records that network n (last seen at last, zero if never) sent
// mail now. Called with mu held.
func (l *List) seen(n netip.Prefix, last, now time.Time) {
	if last.IsZero() || now.Sub(last) >= logEvery {
		l.log("N", n.String(), now)
	} else {
		now = last // keep the logged time, so the file and memory agree
	}
	l.nets[n] = now
}

// sweep drops expired entries. Called with mu held.
func (l *List) sweep(now time.Time) {
	for k, e := range l.triples {
		if e.passed && now.Sub(e.last) >= l.opts.Expiry || !e.passed && now.Sub(e.first) >= l.opts.Window {
			delete(l.triples, k)
		}
	}
	for n, last := range l.nets {
		if now.Sub(last) >= l.opts.Expiry {
			delete(l.nets, n)
		}
	}
}

// log appends one change: "F key t" first attempt, "P key t" passed,
// "N net t" network seen. Called with mu held; errors are ignored (the
// state is advisory).
func (l *List) log(kind, key string, t time.Time) {
	if l.file != nil {
		fmt.Fprintf(l.file, "%s %d %s\n", kind, t.Unix(), key)
	}
}

func (l *List) load() error {
	f, err := os.Open(l.opts.Path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("greylist: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		kind, rest, _ := strings.Cut(sc.Text(), " ")
		ts, key, _ := strings.Cut(rest, " ")
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || key == "" {
			continue // a torn last line after a crash
		}
		t := time.Unix(sec, 0)
		switch kind {
		case "F":
			l.triples[key] = &entry{first: t}
		case "P":
			if e := l.triples[key]; e != nil {
				e.passed, e.last = true, t
			} else {
				l.triples[key] = &entry{first: t, last: t, passed: true}
			}
		case "N":
			if n, err := netip.ParsePrefix(key); err == nil {
				l.nets[n] = t
			}
		}
	}
	return sc.Err()
}

// compact rewrites the file with the live entries and opens it for
// appending.
func (l *List) compact() error {
	l.sweep(l.opts.Now())
	tmp := l.opts.Path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("greylist: %v", err)
	}
	w := bufio.NewWriter(f)
	for k, e := range l.triples {
		fmt.Fprintf(w, "F %d %s\n", e.first.Unix(), k)
		if e.passed {
			fmt.Fprintf(w, "P %d %s\n", e.last.Unix(), k)
		}
	}
	for n, t := range l.nets {
		fmt.Fprintf(w, "N %d %s\n", t.Unix(), n)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("greylist: %v", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("greylist: %v", err)
	}
	if err := os.Rename(tmp, l.opts.Path); err != nil {
		return fmt.Errorf("greylist: %v", err)
	}
	l.file, err = os.OpenFile(l.opts.Path, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("greylist: %v", err)
	}
	return nil
}
