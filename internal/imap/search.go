package imap

import (
	"strconv"
	"time"
)

// SearchKey is one search-key of SEARCH (RFC 9051 §6.4.4, §9; RFC 3501
// §6.4.4 for the IMAP4rev1-only keys; RFC 7162 §3.1.5 for MODSEQ; RFC 5032
// for OLDER/YOUNGER). It is a tree: AND, OR and NOT hold their operands in
// Keys.
//
// Key is the key name in upper case, or one of the synthetic names "AND"
// (a parenthesised list, or the top-level list, of two or more keys) and
// "SEQSET" (a bare sequence set). Which other fields are used depends on
// Key:
//
//	no argument        ALL ANSWERED DELETED DRAFT FLAGGED NEW OLD RECENT SEEN
//	                   UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN
//	Value (astring)    BCC BODY CC FROM SUBJECT TEXT TO
//	Value (flag)       KEYWORD UNKEYWORD
//	Field, Value       HEADER
//	Date               BEFORE ON SINCE SENTBEFORE SENTON SENTSINCE
//	Number             LARGER SMALLER OLDER YOUNGER
//	Number, ModSeq*    MODSEQ
//	Set                UID SEQSET
//	Keys               AND (2 or more) OR (2) NOT (1)
type SearchKey struct {
	Key    string
	Value  string
	Field  string
	Date   time.Time
	Number uint64
	Set    SeqSet
	Keys   []SearchKey
	// ModSeqEntry and ModSeqType are MODSEQ's optional entry name (a
	// "/flags/..." metadata item) and its type ("priv", "shared", "all").
	ModSeqEntry, ModSeqType string
}

// searchArity says what follows each key name.
type searchArg int

const (
	argNone searchArg = iota
	argAString
	argFlag
	argHeader
	argDate
	argNumber
	argNZNumber
	argModSeq
	argSeqSet
	argNot
	argOr
)

func searchArgOf(key string) (searchArg, bool) {
	switch key {
	case "ALL", "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "NEW", "OLD", "RECENT", "SEEN",
		"UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN":
		return argNone, true
	case "BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO":
		return argAString, true
	case "KEYWORD", "UNKEYWORD":
		return argFlag, true
	case "HEADER":
		return argHeader, true
	case "BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE":
		return argDate, true
	case "LARGER", "SMALLER":
		return argNumber, true
	case "OLDER", "YOUNGER":
		return argNZNumber, true
	case "MODSEQ":
		return argModSeq, true
	case "UID":
		return argSeqSet, true
	case "NOT":
		return argNot, true
	case "OR":
		return argOr, true
	}
	return 0, false
}

// SearchKeys reads 1*(SP search-key) up to the end of the line (RFC 3501
// §6.4.4: the keys are ANDed). The first SP has been read. One key is
// returned as itself, several as an AND.
func (r *Reader) SearchKeys() (SearchKey, error) {
	var keys []SearchKey
	for {
		k, err := r.SearchKey()
		if err != nil {
			return SearchKey{}, err
		}
		keys = append(keys, k)
		if r.AtEOL() {
			break
		}
		if err := r.SP(); err != nil {
			return SearchKey{}, err
		}
	}
	if len(keys) == 1 {
		return keys[0], nil
	}
	return SearchKey{Key: "AND", Keys: keys}, nil
}

// SearchKey reads one search-key.
func (r *Reader) SearchKey() (SearchKey, error) { return r.searchKey(0) }

func (r *Reader) searchKey(depth int) (SearchKey, error) {
	if depth > maxNesting {
		return SearchKey{}, r.bad("search keys nested too deeply")
	}
	switch c := r.peek(); {
	case c == '(':
		var keys []SearchKey
		err := r.List(func() error {
			k, err := r.searchKey(depth + 1)
			keys = append(keys, k)
			return err
		})
		if err != nil {
			return SearchKey{}, err
		}
		switch len(keys) {
		case 0:
			return SearchKey{}, r.bad("empty search key list")
		case 1:
			return keys[0], nil
		}
		return SearchKey{Key: "AND", Keys: keys}, nil
	case isDigit(c) || c == '*' || c == '$':
		set, err := r.SeqSet()
		return SearchKey{Key: "SEQSET", Set: set}, err
	}
	name, err := r.Atom()
	if err != nil {
		return SearchKey{}, err
	}
	return r.searchKeyNamed(toUpper(name), depth)
}

// searchKeyNamed reads the arguments of the key whose upper-case name was
// read.
func (r *Reader) searchKeyNamed(name string, depth int) (SearchKey, error) {
	var err error
	k := SearchKey{Key: name}
	arg, ok := searchArgOf(k.Key)
	if !ok {
		return k, r.bad("unknown search key %s", k.Key)
	}
	if arg == argNone {
		return k, nil
	}
	if err := r.SP(); err != nil {
		return k, err
	}
	switch arg {
	case argAString:
		k.Value, err = r.AString()
	case argFlag:
		k.Value, err = r.Flag()
		if err == nil && k.Value[0] == '\\' {
			err = r.bad("keyword expected")
		}
	case argHeader:
		if k.Field, err = r.AString(); err == nil {
			if err = r.SP(); err == nil {
				k.Value, err = r.AString()
			}
		}
	case argDate:
		k.Date, err = r.Date()
	case argNumber:
		k.Number, err = r.Number64()
	case argNZNumber:
		var n uint32
		n, err = r.NZNumber()
		k.Number = uint64(n)
	case argModSeq:
		err = r.searchModSeq(&k)
	case argSeqSet:
		k.Set, err = r.SeqSet()
	case argNot:
		var sub SearchKey
		sub, err = r.searchKey(depth + 1)
		k.Keys = []SearchKey{sub}
	case argOr:
		var a, b SearchKey
		if a, err = r.searchKey(depth + 1); err == nil {
			if err = r.SP(); err == nil {
				b, err = r.searchKey(depth + 1)
			}
		}
		k.Keys = []SearchKey{a, b}
	}
	return k, err
}

// searchModSeq reads [entry-name SP entry-type-req SP] mod-sequence-valzer
// (RFC 7162 §3.1.5).
func (r *Reader) searchModSeq(k *SearchKey) error {
	var err error
	if r.peek() == '"' {
		if k.ModSeqEntry, err = r.Quoted(); err != nil {
			return err
		}
		if len(k.ModSeqEntry) < 8 || !eqFold(k.ModSeqEntry[:7], "/flags/") {
			return r.bad("invalid MODSEQ entry name")
		}
		if err = r.SP(); err != nil {
			return err
		}
		t, err := r.Atom()
		if err != nil {
			return err
		}
		switch t = toLowerASCII(t); t {
		case "priv", "shared", "all":
			k.ModSeqType = t
		default:
			return r.bad("invalid MODSEQ entry type")
		}
		if err = r.SP(); err != nil {
			return err
		}
	}
	k.Number, err = r.Number64()
	return err
}

func toLowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// AppendTo appends the key in IMAP syntax; strings go as astrings, using
// non-synchronizing literals when they must be literals.
func (k SearchKey) AppendTo(b []byte) []byte { return k.appendTo(b, false) }

// String returns the key in IMAP syntax.
func (k SearchKey) String() string { return string(k.AppendTo(nil)) }

func (k SearchKey) appendTo(b []byte, top bool) []byte {
	switch k.Key {
	case "AND":
		if !top {
			b = append(b, '(')
		}
		for i, sub := range k.Keys {
			if i > 0 {
				b = append(b, ' ')
			}
			b = sub.appendTo(b, false)
		}
		if !top {
			b = append(b, ')')
		}
		return b
	case "SEQSET":
		return k.Set.AppendTo(b)
	}
	b = append(b, k.Key...)
	arg, _ := searchArgOf(k.Key)
	if arg == argNone {
		return b
	}
	b = append(b, ' ')
	switch arg {
	case argAString:
		b = appendAStringArg(b, k.Value)
	case argFlag:
		b = append(b, k.Value...)
	case argHeader:
		b = appendAStringArg(b, k.Field)
		b = append(b, ' ')
		b = appendAStringArg(b, k.Value)
	case argDate:
		b = AppendDate(b, k.Date)
	case argNumber, argNZNumber:
		b = strconv.AppendUint(b, k.Number, 10)
	case argModSeq:
		if k.ModSeqEntry != "" {
			b = appendQuoted(b, k.ModSeqEntry)
			b = append(b, ' ')
			b = append(b, k.ModSeqType...)
			b = append(b, ' ')
		}
		b = strconv.AppendUint(b, k.Number, 10)
	case argSeqSet:
		b = k.Set.AppendTo(b)
	case argNot:
		b = k.Keys[0].appendTo(b, false)
	case argOr:
		b = k.Keys[0].appendTo(b, false)
		b = append(b, ' ')
		b = k.Keys[1].appendTo(b, false)
	}
	return b
}

// appendAStringArg appends an astring argument of a command: atom, quoted,
// or a non-synchronizing literal (RFC 7888).
func appendAStringArg(b []byte, s string) []byte {
	switch {
	case isAString(s):
		return append(b, s...)
	case quotable(s, true):
		return appendQuoted(b, s)
	}
	return appendLiteral(b, s, true)
}
