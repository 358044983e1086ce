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
)

// fileState is the state of one node: in memory, with each change
// appended to the state file (when there is one).
type fileState struct {
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

func openFileState(opts Options) (*fileState, error) {
	l := &fileState{opts: opts, triples: map[string]*entry{}, nets: map[netip.Prefix]time.Time{}}
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

func (l *fileState) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file == nil {
		return nil
	}
	err := l.file.Close()
	l.file = nil
	return err
}

// allow decides an attempt of the triplet (n, sender, rcpt); sender and
// rcpt are in lower case.
func (l *fileState) allow(n netip.Prefix, sender, rcpt string) bool {
	now := l.opts.Now()
	key := n.String() + " " + sender + " " + rcpt
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
	if !e.passed || now.Sub(e.last) >= touchEvery {
		l.log("P", key, now)
	}
	e.passed, e.last = true, now
	l.seen(n, l.nets[n], now)
	return true
}

// seen records that network n (last seen at last, zero if never) sent
// mail now. Called with mu held.
func (l *fileState) seen(n netip.Prefix, last, now time.Time) {
	if last.IsZero() || now.Sub(last) >= touchEvery {
		l.log("N", n.String(), now)
	} else {
		now = last // keep the logged time, so the file and memory agree
	}
	l.nets[n] = now
}

// sweep drops expired entries. Called with mu held.
func (l *fileState) sweep(now time.Time) {
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
func (l *fileState) log(kind, key string, t time.Time) {
	if l.file != nil {
		fmt.Fprintf(l.file, "%s %d %s\n", kind, t.Unix(), key)
	}
}

func (l *fileState) load() error {
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
func (l *fileState) compact() error {
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
