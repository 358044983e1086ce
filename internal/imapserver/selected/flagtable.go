package selected

import (
	"slices"
	"strings"
)

// System flag bits, for SEARCH without string compares.
const (
	bitSeen = 1 << iota
	bitAnswered
	bitFlagged
	bitDeleted
	bitDraft
)

// flagSet is one distinct combination of flags, interned in a flagTable:
// a mailbox of 100,000 messages typically has a handful of combinations,
// so each message holds a 4-octet index rather than a slice of strings.
type flagSet struct {
	list     []string // sorted, as the store returns them
	bits     uint8    // system flags
	keywords []string // lower-cased keywords, for KEYWORD searches
	resp     []byte   // "(\Seen \Flagged)", as FETCH writes it
}

// flagTable interns flag sets. It only grows while the mailbox state
// lives; guarded by the state's lock.
type flagTable struct {
	sets  []*flagSet
	index map[string]uint32
}

// intern returns the index of the set of flags (sorted).
func (t *flagTable) intern(flags []string) uint32 {
	key := strings.Join(flags, " ")
	if i, ok := t.index[key]; ok {
		return i
	}
	if t.index == nil {
		t.index = map[string]uint32{}
	}
	fs := newFlagSet(slices.Clone(flags))
	i := uint32(len(t.sets))
	t.sets = append(t.sets, fs)
	t.index[key] = i
	return i
}

func newFlagSet(list []string) *flagSet {
	fs := &flagSet{list: list}
	fs.resp = append(fs.resp, '(')
	for i, f := range list {
		if i > 0 {
			fs.resp = append(fs.resp, ' ')
		}
		fs.resp = append(fs.resp, f...)
		if b := systemBit(f); b != 0 {
			fs.bits |= b
		} else {
			fs.keywords = append(fs.keywords, strings.ToLower(f))
		}
	}
	fs.resp = append(fs.resp, ')')
	return fs
}

func systemBit(f string) uint8 {
	switch {
	case strings.EqualFold(f, `\Seen`):
		return bitSeen
	case strings.EqualFold(f, `\Answered`):
		return bitAnswered
	case strings.EqualFold(f, `\Flagged`):
		return bitFlagged
	case strings.EqualFold(f, `\Deleted`):
		return bitDeleted
	case strings.EqualFold(f, `\Draft`):
		return bitDraft
	}
	return 0
}

// hasKeyword reports whether the set holds the keyword, ignoring case
// (RFC 9051 §2.3.2).
func (fs *flagSet) hasKeyword(kw string) bool {
	kw = strings.ToLower(kw)
	return slices.Contains(fs.keywords, kw)
}
