package selected

import (
	"context"
	"iter"

	"github.com/posthorn/posthorn/internal/imap"
)

// errBadSeq answers sequence numbers beyond the mailbox (RFC 9051 §9
// seq-number: a number larger than the mailbox holds is invalid; Dovecot
// answers BAD too).
var errBadSeq = &imap.Error{Status: imap.BAD, Text: "Invalid message sequence number"}

// selection yields the view positions (0-based, ascending) a command's set
// names: message sequence numbers, or UIDs when uid is set. "$" is the
// saved search result (RFC 5182). Sequence numbers beyond the mailbox are
// refused before anything is yielded.
//
// UID forms first announce messages that arrived since the client last
// heard, so that it can name them by the UIDs it got elsewhere (APPENDUID,
// another session).
func (v *View) selection(ctx context.Context, w *imap.Writer, set imap.SeqSet, uid bool) (iter.Seq[int], error) {
	if uid {
		if err := v.announceNew(ctx, w); err != nil {
			return nil, err
		}
	}
	if set.Saved {
		return imap.SeqSetOf(v.saved).Select(v.uids), nil
	}
	if uid {
		var last uint32
		if n := len(v.uids); n > 0 {
			last = v.uids[n-1]
		}
		return set.Resolve(last).Select(v.uids), nil
	}
	n := uint32(len(v.uids))
	if set.Largest() > n || n == 0 {
		return nil, errBadSeq
	}
	r := set.Resolve(n)
	return func(yield func(int) bool) {
		for seq := range r.All() {
			if !yield(int(seq - 1)) {
				return
			}
		}
	}, nil
}

// selectedUIDs collects the UIDs of a selection.
func (v *View) selectedUIDs(sel iter.Seq[int]) []uint32 {
	var uids []uint32
	for i := range sel {
		uids = append(uids, v.uids[i])
	}
	return uids
}
