package selected

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/posthorn/posthorn/internal/imap"
	"github.com/posthorn/posthorn/internal/store"
)

// systemFlags are the flags every mailbox offers (RFC 9051 §2.3.2).
const systemFlags = `\Answered \Flagged \Deleted \Seen \Draft`

// Open selects box (EXAMINE when readOnly) and writes the untagged
// responses of SELECT/EXAMINE (RFC 9051 §6.3.2, RFC 3501 §6.3.1, RFC 7162
// §3.1.2.1 and §3.2.5): FLAGS, EXISTS, RECENT (IMAP4rev1: always 0, as
// posthorn keeps no \Recent; RFC 9051 dropped it), LIST (IMAP4rev2), OK
// [UNSEEN] (IMAP4rev1), OK [PERMANENTFLAGS], [UIDVALIDITY], [UIDNEXT],
// [HIGHESTMODSEQ] once CONDSTORE is on, and for QRESYNC VANISHED (EARLIER)
// and FETCH of what changed since the client's MODSEQ. The session then
// writes the tagged OK [READ-WRITE] or [READ-ONLY]. args may be nil.
//
// The SELECT parameter CONDSTORE turns Caps.CondStore on; QRESYNC needs
// Caps.QResync (ENABLE QRESYNC) and is otherwise refused with BAD (RFC
// 7162 §3.2.5).
func Open(ctx context.Context, st store.Store, box store.Mailbox, readOnly bool, caps *Caps, args *imap.SelectArgs, w *imap.Writer) (*View, error) {
	if args == nil {
		args = &imap.SelectArgs{}
	}
	if args.QResync != nil && !caps.QResync {
		return nil, &imap.Error{Status: imap.BAD, Text: "QRESYNC is not enabled"}
	}
	if args.CondStore || args.QResync != nil {
		caps.CondStore = true
	}
	s, err := acquire(ctx, st, box.ID)
	if errors.Is(err, store.ErrNotFound) {
		// Deleted by another session after the name was resolved.
		return nil, &imap.Error{Status: imap.NO, Code: "NONEXISTENT", Text: "No such mailbox"}
	}
	if err != nil {
		return nil, err
	}
	v := &View{st: st, box: box, readOnly: readOnly, caps: caps, s: s}
	s.addView(v)
	v.released = false
	if err := s.refresh(ctx); err != nil {
		v.Release()
		return nil, err
	}
	s.mu.RLock()
	v.uids, v.gen, v.seen = s.uids[:len(s.uids):len(s.uids)], s.gen, s.complete
	highest, uidNext := max(s.complete, 1), s.uidNext
	keywords := s.keywords()
	var firstUnseen uint32
	if !caps.Rev2 {
		for i := range s.info {
			if s.flags.sets[s.info[i].flags].bits&bitSeen == 0 {
				firstUnseen = uint32(i + 1)
				break
			}
		}
	}
	s.mu.RUnlock()

	w.Untagged()
	w.Atom("FLAGS (" + systemFlags + keywords + ")")
	w.CRLF()
	w.Untagged()
	w.Number(uint32(len(v.uids)))
	w.Atom(" EXISTS")
	w.CRLF()
	if caps.Rev2 {
		w.Untagged()
		w.Atom(`LIST () "` + store.Delimiter + `" `)
		w.AString(box.Name)
		w.CRLF()
	} else {
		w.Untagged()
		w.Atom("0 RECENT")
		w.CRLF()
		if firstUnseen > 0 {
			w.Untagged()
			w.Atom("OK [UNSEEN ")
			w.Number(firstUnseen)
			w.Atom("] First unseen")
			w.CRLF()
		}
	}
	if readOnly {
		w.Status("", imap.OK, "PERMANENTFLAGS ()", "Read-only mailbox")
	} else {
		w.Status("", imap.OK, "PERMANENTFLAGS ("+systemFlags+keywords+` \*)`, "Flags permitted")
	}
	w.Status("", imap.OK, "UIDVALIDITY "+itoa(uint64(box.UIDValidity)), "UIDs valid")
	w.Status("", imap.OK, "UIDNEXT "+itoa(uint64(uidNext)), "Predicted next UID")
	if caps.CondStore {
		w.Status("", imap.OK, "HIGHESTMODSEQ "+itoa(highest), "Highest")
	}
	if q := args.QResync; q != nil && q.UIDValidity == box.UIDValidity {
		if err := v.resync(ctx, w, q); err != nil {
			v.Release()
			return nil, err
		}
	}
	if err := w.Err(); err != nil {
		v.Release()
		return nil, err
	}
	return v, nil
}

// keywords returns " kw1 kw2" for the keywords in use; s.mu read-held.
func (s *mailboxState) keywords() string {
	var kws []string
	seen := map[string]bool{}
	for _, fs := range s.flags.sets {
		for _, f := range fs.list {
			if systemBit(f) == 0 && !strings.HasPrefix(f, `\`) && !seen[strings.ToLower(f)] {
				seen[strings.ToLower(f)] = true
				kws = append(kws, f)
			}
		}
	}
	slices.Sort(kws)
	if len(kws) == 0 {
		return ""
	}
	return " " + strings.Join(kws, " ")
}

// resync answers SELECT's QRESYNC parameter (RFC 7162 §3.2.5.1): the UIDs
// expunged since the client's MODSEQ as VANISHED (EARLIER), then FETCH of
// the messages changed since, both limited to the known UIDs when given.
// The change log keeps every expunge, so the sequence match data is not
// needed.
func (v *View) resync(ctx context.Context, w *imap.Writer, q *imap.QResyncArgs) error {
	known, err := v.writeVanishedEarlier(ctx, w, q.ModSeq, q.KnownUIDs)
	if err != nil {
		return err
	}
	s := v.s
	s.mu.RLock()
	defer s.mu.RUnlock()
	for seq, uid := range v.uids {
		if known != nil && !known.Contains(uid) {
			continue
		}
		i := v.stateIndex(seq, uid)
		if i >= 0 && s.info[i].modseq > q.ModSeq {
			v.writeFlags(w, uint32(seq+1), uid, &s.info[i])
		}
	}
	return nil
}

func itoa(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
