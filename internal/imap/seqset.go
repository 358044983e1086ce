package imap

import (
	"errors"
	"iter"
	"slices"
	"sort"
	"strconv"
)

// SeqRange is one element of a sequence set: Start:Stop, or a single number
// when Start == Stop. Star (0) stands for "*", the largest number in use
// (RFC 9051 §9 seq-number). A range is unordered: 4:2 is 2:4.
type SeqRange struct {
	Start, Stop uint32
}

// Star is "*" in a SeqRange.
const Star uint32 = 0

// SeqSet is a sequence set of message sequence numbers or UIDs (RFC 9051 §9
// sequence-set), or "$", the saved search result (RFC 5182, Saved).
//
// As parsed it keeps the client's ranges; Resolve gives the normalised form
// (sorted, merged, "*" replaced) on which Contains, Select and All work in
// O(ranges) or O(ranges · log n), never O(messages).
type SeqSet struct {
	Ranges []SeqRange
	Saved  bool // "$"
}

// errBadSeqSet is returned by ParseSeqSet.
var errBadSeqSet = errors.New("imap: invalid sequence set")

// ParseSeqSet parses a sequence set such as "1:3,5,7:*" or "$".
func ParseSeqSet(s string) (SeqSet, error) {
	if s == "$" {
		return SeqSet{Saved: true}, nil
	}
	var set SeqSet
	for len(s) > 0 {
		var r SeqRange
		var err error
		r.Start, s, err = parseSeqNumber(s)
		if err != nil {
			return SeqSet{}, err
		}
		r.Stop = r.Start
		if len(s) > 0 && s[0] == ':' {
			r.Stop, s, err = parseSeqNumber(s[1:])
			if err != nil {
				return SeqSet{}, err
			}
		}
		set.Ranges = append(set.Ranges, r)
		if len(s) > 0 {
			if s[0] != ',' || len(s) == 1 {
				return SeqSet{}, errBadSeqSet
			}
			s = s[1:]
		}
	}
	if len(set.Ranges) == 0 {
		return SeqSet{}, errBadSeqSet
	}
	return set, nil
}

func parseSeqNumber(s string) (uint32, string, error) {
	if len(s) > 0 && s[0] == '*' {
		return Star, s[1:], nil
	}
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i == 0 || s[0] == '0' {
		return 0, s, errBadSeqSet
	}
	n, err := strconv.ParseUint(s[:i], 10, 32)
	if err != nil {
		return 0, s, errBadSeqSet
	}
	return uint32(n), s[i:], nil
}

// isSeqSetChar reports the octets a sequence set is made of.
func isSeqSetChar(c byte) bool { return isDigit(c) || c == ':' || c == ',' || c == '*' || c == '$' }

// SeqSet reads a sequence set.
func (r *Reader) SeqSet() (SeqSet, error) {
	s, err := r.chars(isSeqSetChar, "sequence set")
	if err != nil {
		return SeqSet{}, err
	}
	set, err := ParseSeqSet(s)
	if err != nil {
		return SeqSet{}, r.bad("invalid sequence set")
	}
	return set, nil
}

// String returns the set in IMAP syntax.
func (s SeqSet) String() string { return string(s.AppendTo(nil)) }

// AppendTo appends the set in IMAP syntax.
func (s SeqSet) AppendTo(b []byte) []byte {
	if s.Saved {
		return append(b, '$')
	}
	for i, r := range s.Ranges {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendSeqNumber(b, r.Start)
		if r.Stop != r.Start {
			b = append(b, ':')
			b = appendSeqNumber(b, r.Stop)
		}
	}
	return b
}

func appendSeqNumber(b []byte, n uint32) []byte {
	if n == Star {
		return append(b, '*')
	}
	return strconv.AppendUint(b, uint64(n), 10)
}

// Dynamic reports whether the set uses "*".
func (s SeqSet) Dynamic() bool {
	for _, r := range s.Ranges {
		if r.Start == Star || r.Stop == Star {
			return true
		}
	}
	return false
}

// Largest returns the largest number in the set other than "*", to check
// message sequence numbers against the mailbox size (RFC 9051 §9: a number
// beyond it is an error).
func (s SeqSet) Largest() uint32 {
	var m uint32
	for _, r := range s.Ranges {
		m = max(m, r.Start, r.Stop)
	}
	return m
}

// Resolve returns the normalised set with "*" standing for last: ranges
// ordered, sorted, merged, and clipped to 1..last. With last == 0 (an empty
// mailbox) the result is empty. As RFC 9051 §6.4.8 requires for UIDs, n:*
// always includes last even when n > last. Resolve on a "$" set returns it
// unchanged; the engine substitutes the saved result first.
func (s SeqSet) Resolve(last uint32) SeqSet {
	if s.Saved {
		return s
	}
	out := make([]SeqRange, 0, len(s.Ranges))
	for _, r := range s.Ranges {
		a, b := r.Start, r.Stop
		if a == Star {
			a = last
		}
		if b == Star {
			b = last
		}
		if a > b {
			a, b = b, a
		}
		if a > last || a == 0 {
			continue
		}
		b = min(b, last)
		out = append(out, SeqRange{a, b})
	}
	return SeqSet{Ranges: normalize(out)}
}

// normalize sorts and merges overlapping or adjacent ordered ranges.
func normalize(rs []SeqRange) []SeqRange {
	if len(rs) == 0 {
		return nil
	}
	slices.SortFunc(rs, func(x, y SeqRange) int {
		switch {
		case x.Start < y.Start:
			return -1
		case x.Start > y.Start:
			return 1
		}
		return 0
	})
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if uint64(r.Start) <= uint64(last.Stop)+1 {
			last.Stop = max(last.Stop, r.Stop)
			continue
		}
		out = append(out, r)
	}
	return out
}

// Contains reports whether n is in a resolved set, in O(log ranges).
func (s SeqSet) Contains(n uint32) bool {
	i := sort.Search(len(s.Ranges), func(i int) bool { return s.Ranges[i].Stop >= n })
	return i < len(s.Ranges) && s.Ranges[i].Start <= n && n != 0
}

// Count returns how many numbers a resolved set holds.
func (s SeqSet) Count() uint64 {
	var n uint64
	for _, r := range s.Ranges {
		n += uint64(r.Stop) - uint64(r.Start) + 1
	}
	return n
}

// All yields the numbers of a resolved set in ascending order, without
// materialising them.
func (s SeqSet) All() iter.Seq[uint32] {
	return func(yield func(uint32) bool) {
		for _, r := range s.Ranges {
			for n := uint64(r.Start); n <= uint64(r.Stop); n++ {
				if !yield(uint32(n)) {
					return
				}
			}
		}
	}
}

// Select yields the indexes into sorted (ascending UIDs of a mailbox) of the
// numbers that are in the resolved set, in O(ranges · log n + matches).
func (s SeqSet) Select(sorted []uint32) iter.Seq[int] {
	return func(yield func(int) bool) {
		lo := 0
		for _, r := range s.Ranges {
			rest := sorted[lo:]
			i := lo + sort.Search(len(rest), func(i int) bool { return rest[i] >= r.Start })
			for ; i < len(sorted) && sorted[i] <= r.Stop; i++ {
				if !yield(i) {
					return
				}
			}
			lo = i
		}
	}
}

// SeqSetOf returns the compact set of the given numbers (any order,
// duplicates allowed), as for COPYUID, VANISHED and ESEARCH ALL responses.
func SeqSetOf(nums []uint32) SeqSet {
	rs := make([]SeqRange, 0, len(nums))
	for _, n := range nums {
		if n != 0 {
			rs = append(rs, SeqRange{n, n})
		}
	}
	return SeqSet{Ranges: normalize(rs)}
}
