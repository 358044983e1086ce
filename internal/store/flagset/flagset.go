// Package flagset is the stored form of IMAP message flags shared by the
// store backends: system flags as bits of one integer, keywords as a
// space-separated sorted list (RFC 3501 §2.3.2), with the canonicalising,
// the STORE operations and the store.Message.Flags rendering.
package flagset

import (
	"fmt"
	"slices"
	"strings"

	"github.com/posthorn/posthorn/internal/store"
)

// The system flags' bits. Backends' SQL relies on Deleted (4) and Seen
// (8) for the STATUS counters.
const (
	Answered = 1 << iota
	Flagged
	Deleted
	Seen
	Draft
)

var systemFlags = [...]struct {
	name string
	bit  int64
}{
	{`\Answered`, Answered},
	{`\Deleted`, Deleted},
	{`\Draft`, Draft},
	{`\Flagged`, Flagged},
	{`\Seen`, Seen},
}

// Set is a canonical set of flags.
type Set struct {
	Sys      int64
	Keywords []string // sorted; unique ignoring case
}

// Parse canonicalises flags: system flags get their canonical case,
// `\Recent` is dropped (it is session state, never stored), keywords are
// kept as given but deduplicated ignoring case.
func Parse(in []string) (Set, error) {
	var f Set
	for _, fl := range in {
		if strings.HasPrefix(fl, `\`) {
			if strings.EqualFold(fl, `\Recent`) {
				continue
			}
			bit := systemBit(fl)
			if bit == 0 {
				return Set{}, fmt.Errorf("flag %q: %w", fl, store.ErrInvalid)
			}
			f.Sys |= bit
			continue
		}
		if !validKeyword(fl) {
			return Set{}, fmt.Errorf("keyword %q: %w", fl, store.ErrInvalid)
		}
		f.addKeyword(fl)
	}
	return f, nil
}

func systemBit(fl string) int64 {
	for _, sf := range systemFlags {
		if strings.EqualFold(fl, sf.name) {
			return sf.bit
		}
	}
	return 0
}

// validKeyword reports whether kw is an IMAP atom (RFC 3501 §9, flag-keyword).
func validKeyword(kw string) bool {
	if kw == "" {
		return false
	}
	for _, c := range []byte(kw) {
		if c <= ' ' || c == 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return false
		}
	}
	return true
}

func (f *Set) indexKeyword(kw string) int {
	return slices.IndexFunc(f.Keywords, func(k string) bool { return strings.EqualFold(k, kw) })
}

func (f *Set) addKeyword(kw string) {
	if f.indexKeyword(kw) >= 0 {
		return
	}
	i, _ := slices.BinarySearch(f.Keywords, kw)
	f.Keywords = slices.Insert(f.Keywords, i, kw)
}

// Apply returns the result of op with arg on f.
func (f Set) Apply(op store.FlagOp, arg Set) Set {
	switch op {
	case store.FlagsReplace:
		return arg
	case store.FlagsAdd:
		out := Set{Sys: f.Sys | arg.Sys, Keywords: slices.Clone(f.Keywords)}
		for _, kw := range arg.Keywords {
			out.addKeyword(kw)
		}
		return out
	default: // store.FlagsRemove
		out := Set{Sys: f.Sys &^ arg.Sys}
		for _, kw := range f.Keywords {
			if arg.indexKeyword(kw) < 0 {
				out.Keywords = append(out.Keywords, kw)
			}
		}
		return out
	}
}

// Equal reports whether f and g are the same set.
func (f Set) Equal(g Set) bool {
	return f.Sys == g.Sys && slices.Equal(f.Keywords, g.Keywords)
}

// KeywordText is the stored form of the keywords.
func (f Set) KeywordText() string { return strings.Join(f.Keywords, " ") }

// List is the flags as store.Message.Flags wants them: sorted.
func (f Set) List() []string {
	out := make([]string, 0, len(f.Keywords)+len(systemFlags))
	for _, sf := range systemFlags {
		if f.Sys&sf.bit != 0 {
			out = append(out, sf.name)
		}
	}
	out = append(out, f.Keywords...)
	slices.Sort(out)
	return out
}

// Text is the stored form of the whole set, for the change log.
func (f Set) Text() string { return strings.Join(f.List(), " ") }

// Stored rebuilds a Set from its stored columns.
func Stored(sys int64, keywords string) Set {
	return Set{Sys: sys, Keywords: strings.Fields(keywords)}
}

// Lists interns Message.Flags within one listing: messages with the
// same flags share one slice (store.Message.Flags is read-only), so a
// 100,000-message mailbox costs a handful of flag slices, not 100,000.
// The zero value is ready to use.
type Lists struct {
	bySys [Draft << 1][]string            // system flags only, by bit set
	other [Draft << 1]map[string][]string // with keywords, by bit set and keywords
}

// Get returns the shared List of the stored flags (sys, keywords).
func (fl *Lists) Get(sys int64, keywords []byte) []string {
	if sys < 0 || sys >= int64(len(fl.bySys)) { // not written by a backend
		return Stored(sys, string(keywords)).List()
	}
	if len(keywords) == 0 {
		if l := fl.bySys[sys]; l != nil {
			return l
		}
		l := Stored(sys, "").List()
		fl.bySys[sys] = l
		return l
	}
	if l, ok := fl.other[sys][string(keywords)]; ok { // no allocation
		return l
	}
	if fl.other[sys] == nil {
		fl.other[sys] = map[string][]string{}
	}
	kw := string(keywords)
	l := Stored(sys, kw).List()
	fl.other[sys][kw] = l
	return l
}
