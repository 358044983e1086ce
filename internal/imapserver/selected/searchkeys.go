package selected

import (
	"context"
	"time"

	"github.com/posthorn/posthorn/internal/imap"
	"github.com/posthorn/posthorn/internal/store"
)

// A SEARCH is compiled into a tree of nodes and evaluated in two passes:
// first on the shared state alone (flags, sizes, dates, UIDs, MODSEQs),
// where keys that need the message text answer "maybe"; then, only for
// the messages still undecided, on their bodies streamed by
// store.ForEachBody in one query.

// tri is a three-valued truth: the first pass does not know text keys.
type tri int8

const (
	no tri = iota
	maybe
	yes
)

func (t tri) not() tri { return yes - t }

// node is one compiled search key.
type node struct {
	key   string
	kids  []*node
	set   imap.SeqSet // resolved SEQSET / UID set
	byUID bool        // set holds UIDs (UID keys, and "$")
	text  needle      // string keys
	field string      // HEADER's field name
	day   civilDate   // date keys
	num   uint64
}

// query is a compiled search.
type query struct {
	root   *node
	modseq bool // uses MODSEQ: results carry the highest MODSEQ
	text   bool // some key needs the message text
}

// civilDate is a date without time or zone (RFC 9051 §6.4.4: date keys
// disregard time and timezone).
type civilDate struct {
	y int
	m time.Month
	d int
}

func dateOf(t time.Time) civilDate {
	y, m, d := t.Date()
	return civilDate{y, m, d}
}

func (a civilDate) cmp(b civilDate) int {
	switch {
	case a.y != b.y:
		return a.y - b.y
	case a.m != b.m:
		return int(a.m) - int(b.m)
	}
	return a.d - b.d
}

// compile resolves sets and prepares needles.
func (v *View) compile(k *imap.SearchKey) (*query, error) {
	q := &query{}
	root, err := v.compileKey(q, k)
	q.root = root
	return q, err
}

func (v *View) compileKey(q *query, k *imap.SearchKey) (*node, error) {
	n := &node{key: k.Key, field: k.Field, num: k.Number}
	switch k.Key {
	case "AND", "OR", "NOT":
		for i := range k.Keys {
			kid, err := v.compileKey(q, &k.Keys[i])
			if err != nil {
				return nil, err
			}
			n.kids = append(n.kids, kid)
		}
	case "SEQSET", "UID":
		switch {
		case k.Set.Saved:
			n.set, n.byUID = imap.SeqSetOf(v.saved), true
		case k.Key == "UID":
			var last uint32
			if c := len(v.uids); c > 0 {
				last = v.uids[c-1]
			}
			n.set, n.byUID = k.Set.Resolve(last), true
		default:
			n.set = k.Set.Resolve(uint32(len(v.uids)))
		}
	case "BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO", "HEADER":
		n.text = newNeedle(k.Value)
		q.text = true
	case "SENTBEFORE", "SENTON", "SENTSINCE":
		n.day = dateOf(k.Date)
		q.text = true
	case "BEFORE", "ON", "SINCE":
		n.day = dateOf(k.Date)
	case "MODSEQ":
		q.modseq = true
	case "KEYWORD", "UNKEYWORD":
		n.text = newNeedle(k.Value)
	case "ALL", "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "NEW", "OLD", "RECENT", "SEEN",
		"UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN",
		"LARGER", "SMALLER", "OLDER", "YOUNGER":
	default:
		return nil, &imap.Error{Status: imap.BAD, Text: "Unknown search key " + k.Key}
	}
	return n, nil
}

// cand is a message under evaluation.
type cand struct {
	seq, uid uint32
	info     msgInfo
	flags    *flagSet
}

// match is a message found.
type match struct {
	seq, uid uint32
	modseq   uint64
}

// eval evaluates n on c; t is nil in the first pass.
func (n *node) eval(c *cand, t *msgText, now time.Time) tri {
	bits := c.flags.bits
	flag := func(b uint8, want bool) tri {
		if (bits&b != 0) == want {
			return yes
		}
		return no
	}
	is := func(ok bool) tri {
		if ok {
			return yes
		}
		return no
	}
	switch n.key {
	case "AND":
		r := yes
		for _, k := range n.kids {
			switch k.eval(c, t, now) {
			case no:
				return no
			case maybe:
				r = maybe
			}
		}
		return r
	case "OR":
		a := n.kids[0].eval(c, t, now)
		if a == yes {
			return yes
		}
		b := n.kids[1].eval(c, t, now)
		if b == yes {
			return yes
		}
		if a == no && b == no {
			return no
		}
		return maybe
	case "NOT":
		return n.kids[0].eval(c, t, now).not()
	case "ALL", "OLD":
		return yes // no \Recent: every message is old
	case "NEW", "RECENT":
		return no
	case "ANSWERED":
		return flag(bitAnswered, true)
	case "UNANSWERED":
		return flag(bitAnswered, false)
	case "DELETED":
		return flag(bitDeleted, true)
	case "UNDELETED":
		return flag(bitDeleted, false)
	case "DRAFT":
		return flag(bitDraft, true)
	case "UNDRAFT":
		return flag(bitDraft, false)
	case "FLAGGED":
		return flag(bitFlagged, true)
	case "UNFLAGGED":
		return flag(bitFlagged, false)
	case "SEEN":
		return flag(bitSeen, true)
	case "UNSEEN":
		return flag(bitSeen, false)
	case "KEYWORD":
		return is(c.flags.hasKeyword(string(n.text.lower)))
	case "UNKEYWORD":
		return is(!c.flags.hasKeyword(string(n.text.lower)))
	case "LARGER":
		return is(uint64(c.info.size) > n.num)
	case "SMALLER":
		return is(uint64(c.info.size) < n.num)
	case "BEFORE":
		return is(dateOf(time.Unix(c.info.date, 0).UTC()).cmp(n.day) < 0)
	case "ON":
		return is(dateOf(time.Unix(c.info.date, 0).UTC()).cmp(n.day) == 0)
	case "SINCE":
		return is(dateOf(time.Unix(c.info.date, 0).UTC()).cmp(n.day) >= 0)
	case "OLDER":
		return is(now.Unix()-c.info.date >= int64(n.num))
	case "YOUNGER":
		return is(now.Unix()-c.info.date <= int64(n.num))
	case "MODSEQ":
		return is(c.info.modseq >= n.num)
	case "UID":
		return is(n.set.Contains(c.uid))
	case "SEQSET":
		if n.byUID {
			return is(n.set.Contains(c.uid))
		}
		return is(n.set.Contains(c.seq))
	}
	if t == nil {
		return maybe
	}
	return is(t.matches(n))
}

// run evaluates q over the view's messages, in sequence order.
func (v *View) run(ctx context.Context, q *query) ([]match, error) {
	now := time.Now()
	var found []match
	var undecided []cand
	s := v.s
	s.mu.RLock()
	for pos, uid := range v.uids {
		i := v.stateIndex(pos, uid)
		if i < 0 {
			continue // expunged meanwhile: matches nothing
		}
		c := cand{seq: uint32(pos + 1), uid: uid, info: s.info[i], flags: s.flags.sets[s.info[i].flags]}
		switch q.root.eval(&c, nil, now) {
		case yes:
			found = append(found, match{c.seq, c.uid, c.info.modseq})
		case maybe:
			undecided = append(undecided, c)
		}
	}
	s.mu.RUnlock()
	if len(undecided) == 0 {
		return found, nil
	}
	// Most of the mailbox undecided (a plain BODY search): stream all of
	// it rather than send the store a list of 100,000 UIDs.
	var uids []uint32
	if len(undecided) < len(v.uids)/2 {
		uids = make([]uint32, len(undecided))
		for i, c := range undecided {
			uids[i] = c.uid
		}
	}
	var more []match
	k := 0
	var t msgText
	err := v.st.ForEachBody(ctx, v.box.ID, uids, func(m store.Message, body []byte) error {
		for k < len(undecided) && undecided[k].uid < m.UID {
			k++
		}
		if k == len(undecided) || undecided[k].uid != m.UID {
			return nil
		}
		c := &undecided[k]
		t.reset(body)
		if q.root.eval(c, &t, now) == yes {
			more = append(more, match{c.seq, c.uid, c.info.modseq})
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, err
	}
	return mergeMatches(found, more), nil
}

// mergeMatches merges two lists ordered by sequence number.
func mergeMatches(a, b []match) []match {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	out := make([]match, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if a[0].seq < b[0].seq {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	out = append(out, a...)
	return append(out, b...)
}
