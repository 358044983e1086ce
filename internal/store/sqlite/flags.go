package sqlite

import (
	"fmt"
	"slices"
	"strings"

	"github.com/posthorn/posthorn/internal/store"
)

// System flags are stored as bits of messages.sysflags, keywords as a
// space-separated sorted list in messages.keywords (RFC 3501 §2.3.2).
const (
	flagAnswered = 1 << iota
	flagFlagged
	flagDeleted
	flagSeen
	flagDraft
)

var systemFlags = [...]struct {
	name string
	bit  int64
}{
	{`\Answered`, flagAnswered},
	{`\Deleted`, flagDeleted},
	{`\Draft`, flagDraft},
	{`\Flagged`, flagFlagged},
	{`\Seen`, flagSeen},
}

// flagSet is a canonical set of flags.
type flagSet struct {
	sys      int64
	keywords []string // sorted; unique ignoring case
}

// parseFlags canonicalises flags: system flags get their canonical case,
// `\Recent` is dropped (it is session state, never stored), keywords are
// kept as given but deduplicated ignoring case.
func parseFlags(in []string) (flagSet, error) {
	var f flagSet
	for _, fl := range in {
		if strings.HasPrefix(fl, `\`) {
			if strings.EqualFold(fl, `\Recent`) {
				continue
			}
			bit := systemBit(fl)
			if bit == 0 {
				return flagSet{}, fmt.Errorf("flag %q: %w", fl, store.ErrInvalid)
			}
			f.sys |= bit
			continue
		}
		if !validKeyword(fl) {
			return flagSet{}, fmt.Errorf("keyword %q: %w", fl, store.ErrInvalid)
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

func (f *flagSet) indexKeyword(kw string) int {
	return slices.IndexFunc(f.keywords, func(k string) bool { return strings.EqualFold(k, kw) })
}

func (f *flagSet) addKeyword(kw string) {
	if f.indexKeyword(kw) >= 0 {
		return
	}
	i, _ := slices.BinarySearch(f.keywords, kw)
	f.keywords = slices.Insert(f.keywords, i, kw)
}

// apply returns the result of op with arg on f.
func (f flagSet) apply(op store.FlagOp, arg flagSet) flagSet {
	switch op {
	case store.FlagsReplace:
		return arg
	case store.FlagsAdd:
		out := flagSet{sys: f.sys | arg.sys, keywords: slices.Clone(f.keywords)}
		for _, kw := range arg.keywords {
			out.addKeyword(kw)
		}
		return out
	default: // store.FlagsRemove
		out := flagSet{sys: f.sys &^ arg.sys}
		for _, kw := range f.keywords {
			if arg.indexKeyword(kw) < 0 {
				out.keywords = append(out.keywords, kw)
			}
		}
		return out
	}
}

func (f flagSet) equal(g flagSet) bool {
	return f.sys == g.sys && slices.Equal(f.keywords, g.keywords)
}

// keywordText is the stored form of the keywords.
func (f flagSet) keywordText() string { return strings.Join(f.keywords, " ") }

// list is the flags as store.Message.Flags wants them: sorted.
func (f flagSet) list() []string {
	out := make([]string, 0, len(f.keywords)+len(systemFlags))
	for _, sf := range systemFlags {
		if f.sys&sf.bit != 0 {
			out = append(out, sf.name)
		}
	}
	out = append(out, f.keywords...)
	slices.Sort(out)
	return out
}

// text is the stored form of the whole set, for the change log.
func (f flagSet) text() string { return strings.Join(f.list(), " ") }

// storedFlags rebuilds a flagSet from its columns.
func storedFlags(sys int64, keywords string) flagSet {
	return flagSet{sys: sys, keywords: strings.Fields(keywords)}
}
