package selected

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/posthorn/posthorn/internal/imap"
	"github.com/posthorn/posthorn/internal/message"
	"github.com/posthorn/posthorn/internal/store"
)

// fetchChunk is how many messages FETCH copies out of the shared state
// per lock, so a slow client never holds the lock while it reads.
const fetchChunk = 512

// fetched is one message as FETCH sees it.
type fetched struct {
	seq, uid uint32
	info     msgInfo
	flags    *flagSet
}

// fetchPlan is what a FETCH needs besides the state's data.
type fetchPlan struct {
	items     []imap.FetchItem
	structure bool // ENVELOPE, BODY, BODYSTRUCTURE, sections
	body      bool // sections, BINARY, RFC822*
	setsSeen  bool // a non-PEEK section (RFC 9051 §6.4.5)
}

func planFetch(items []imap.FetchItem) (fetchPlan, error) {
	p := fetchPlan{items: items}
	for _, it := range items {
		switch it.Name {
		case "ENVELOPE", "BODYSTRUCTURE":
			p.structure = true
		case "BODY":
			p.structure = true
			if it.Section != nil {
				p.body = true
				p.setsSeen = p.setsSeen || !it.Peek
			}
		case "BINARY", "BINARY.SIZE":
			p.structure, p.body = true, true
			p.setsSeen = p.setsSeen || it.Name == "BINARY" && !it.Peek
		case "RFC822", "RFC822.TEXT":
			p.structure, p.body, p.setsSeen = true, true, true
		case "RFC822.HEADER":
			p.structure, p.body = true, true
		case "UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "MODSEQ":
		default:
			// SAVEDATE, EMAILID, THREADID: not advertised.
			return p, &imap.Error{Status: imap.BAD, Text: "Unsupported fetch attribute " + it.Name}
		}
	}
	return p, nil
}

func hasItem(items []imap.FetchItem, name string) bool {
	for _, it := range items {
		if it.Name == name {
			return true
		}
	}
	return false
}

// Fetch is FETCH and UID FETCH (RFC 9051 §6.4.5), with CHANGEDSINCE and
// VANISHED (RFC 7162 §3.1.4, §3.2.6) and BINARY (RFC 3516). Non-PEEK
// body sections set \Seen first (not under EXAMINE) and the FETCH then
// carries the new FLAGS. Messages another session expunged meanwhile are
// left out and the command ends OK [EXPUNGEISSUED].
func (v *View) Fetch(ctx context.Context, w *imap.Writer, args *imap.FetchArgs, uid bool) (Result, error) {
	if args.Vanished && (!uid || !v.caps.QResync || args.ChangedSince == 0) {
		return Result{}, &imap.Error{Status: imap.BAD, Text: "VANISHED needs UID FETCH, QRESYNC and CHANGEDSINCE"}
	}
	items := args.Items
	if args.ChangedSince > 0 || hasItem(items, "MODSEQ") {
		v.caps.CondStore = true
	}
	if args.ChangedSince > 0 && !hasItem(items, "MODSEQ") {
		items = append(items[:len(items):len(items)], imap.FetchItem{Name: "MODSEQ"})
	}
	if uid && !hasItem(items, "UID") {
		items = append([]imap.FetchItem{{Name: "UID"}}, items...)
	}
	plan, err := planFetch(items)
	if err != nil {
		return Result{}, err
	}
	sel, err := v.selection(ctx, w, args.Set, uid)
	if err != nil {
		return Result{}, err
	}
	if args.Vanished {
		if _, err := v.writeVanishedEarlier(ctx, w, args.ChangedSince, &args.Set); err != nil {
			return Result{}, err
		}
	}
	seenSet := map[uint32]bool{}
	if plan.setsSeen && !v.readOnly {
		if seenSet, err = v.markSeen(ctx, v.selectedUIDs(sel)); err != nil {
			return Result{}, err
		}
	}
	missing := false
	chunk := make([]fetched, 0, fetchChunk)
	flush := func() error {
		for i := range chunk {
			f := &chunk[i]
			if args.ChangedSince > 0 && f.info.modseq <= args.ChangedSince {
				continue
			}
			err := v.fetchOne(ctx, w, &plan, f, seenSet[f.uid])
			if errors.Is(err, store.ErrNotFound) {
				missing = true // expunged since the state was read
				continue
			}
			if err != nil {
				return err
			}
		}
		chunk = chunk[:0]
		return w.Err()
	}
	s := v.s
	s.mu.RLock()
	for pos := range sel {
		uid := v.uids[pos]
		i := v.stateIndex(pos, uid)
		if i < 0 {
			missing = true
			continue
		}
		chunk = append(chunk, fetched{seq: uint32(pos + 1), uid: uid, info: s.info[i], flags: s.flags.sets[s.info[i].flags]})
		if len(chunk) == fetchChunk {
			s.mu.RUnlock()
			err := flush()
			s.mu.RLock()
			if err != nil {
				s.mu.RUnlock()
				return Result{}, err
			}
		}
	}
	s.mu.RUnlock()
	if err := flush(); err != nil {
		return Result{}, err
	}
	if missing {
		return expungeIssued, nil
	}
	return Result{Text: "Fetch completed"}, nil
}

// markSeen sets \Seen on the messages among uids that lack it, and
// returns those whose flags changed; their FETCH carries FLAGS.
func (v *View) markSeen(ctx context.Context, uids []uint32) (map[uint32]bool, error) {
	s := v.s
	var unseen []uint32
	s.mu.RLock()
	for _, uid := range uids {
		if i := s.index(uid); i >= 0 && s.flags.sets[s.info[i].flags].bits&bitSeen == 0 {
			unseen = append(unseen, uid)
		}
	}
	s.mu.RUnlock()
	changed := map[uint32]bool{}
	if len(unseen) == 0 {
		return changed, nil
	}
	updated, _, err := v.st.UpdateFlags(ctx, v.box.ID, unseen, store.FlagsAdd, []string{`\Seen`}, 0)
	if err != nil {
		return nil, err
	}
	s.applyUpdated(updated)
	for _, m := range updated {
		changed[m.UID] = true
		v.noteReported(m.UID, m.ModSeq)
	}
	return changed, nil
}

// noteReported records that the client was sent the flags of uid as of
// modseq, so Sync does not send them again.
func (v *View) noteReported(uid uint32, modseq uint64) {
	if v.reported == nil {
		v.reported = map[uint32]uint64{}
	}
	v.reported[uid] = max(v.reported[uid], modseq)
}

// writeVanishedEarlier writes VANISHED (EARLIER) for the UIDs expunged
// after modseq (RFC 7162 §3.2.5.1, §3.2.6), limited to set when it is not
// nil ("$" is the saved result). It returns the set resolved ("*" the
// largest UID known), nil for none.
func (v *View) writeVanishedEarlier(ctx context.Context, w *imap.Writer, modseq uint64, set *imap.SeqSet) (*imap.SeqSet, error) {
	changes, err := v.st.Changes(ctx, v.box.ID, modseq)
	if err != nil {
		return nil, err
	}
	var within *imap.SeqSet
	if set != nil {
		r := *set
		if r.Saved {
			r = imap.SeqSetOf(v.saved)
		}
		var last uint32
		for _, c := range changes {
			last = max(last, c.UID)
		}
		if n := len(v.uids); n > 0 {
			last = max(last, v.uids[n-1])
		}
		r = r.Resolve(last)
		within = &r
	}
	var gone []uint32
	for _, c := range changes {
		if c.Kind == store.ChangeExpunge && (within == nil || within.Contains(c.UID)) {
			gone = append(gone, c.UID)
		}
	}
	if len(gone) > 0 {
		w.Untagged()
		w.Atom("VANISHED (EARLIER) ")
		w.SeqSet(imap.SeqSetOf(gone))
		w.CRLF()
	}
	return within, nil
}

// fetchOne writes the FETCH response of one message.
func (v *View) fetchOne(ctx context.Context, w *imap.Writer, plan *fetchPlan, f *fetched, seenNow bool) error {
	var (
		part *message.Part
		raw  []byte
	)
	if plan.structure {
		b, err := v.st.MessageStructure(ctx, f.info.id)
		if err != nil {
			return err
		}
		if part, err = message.Unmarshal(b); err != nil {
			return err
		}
	}
	if plan.body {
		var err error
		if raw, err = v.st.MessageBody(ctx, f.info.id); err != nil {
			return err
		}
	}
	// BINARY is decoded before anything is written, so that an unknown
	// encoding can still refuse the command (RFC 3516 §4.3).
	var decoded map[int][]byte
	for k, it := range plan.items {
		if it.Name != "BINARY" && it.Name != "BINARY.SIZE" {
			continue
		}
		b, err := part.Binary(raw, it.Section.Part)
		if errors.Is(err, message.ErrUnknownEncoding) {
			return &imap.Error{Status: imap.NO, Code: "UNKNOWN-CTE", Text: "Unknown Content-Transfer-Encoding"}
		}
		if decoded == nil {
			decoded = map[int][]byte{}
		}
		if err == nil {
			decoded[k] = b
		}
	}
	flags := f.flags
	if seenNow {
		v.s.mu.RLock()
		if i := v.s.index(f.uid); i >= 0 {
			f.info = v.s.info[i]
			flags = v.s.flags.sets[f.info.flags]
		}
		v.s.mu.RUnlock()
	}
	w.Untagged()
	w.Number(f.seq)
	w.Atom(" FETCH (")
	wroteFlags := false
	for k, it := range plan.items {
		if k > 0 {
			w.SP()
		}
		switch it.Name {
		case "UID":
			w.Atom("UID ")
			w.Number(f.uid)
		case "FLAGS":
			w.Atom("FLAGS ")
			w.Raw(flags.resp)
			wroteFlags = true
		case "INTERNALDATE":
			w.Atom("INTERNALDATE ")
			w.DateTime(time.Unix(f.info.date, 0).UTC())
		case "RFC822.SIZE":
			w.Atom("RFC822.SIZE ")
			w.Number64(uint64(f.info.size))
		case "MODSEQ":
			w.Atom("MODSEQ (")
			w.Number64(f.info.modseq)
			w.Atom(")")
		case "ENVELOPE":
			w.Atom("ENVELOPE ")
			w.Raw(part.Envelope.AppendTo(nil))
		case "BODYSTRUCTURE":
			w.Atom("BODYSTRUCTURE ")
			w.Raw(v.bodyStructure(part, true))
		case "BODY":
			if it.Section == nil {
				w.Atom("BODY ")
				w.Raw(v.bodyStructure(part, false))
				break
			}
			w.Raw(it.AppendResponseName(nil))
			w.SP()
			b, ok := part.Section(raw, *it.Section)
			if !ok {
				w.Nil()
				break
			}
			b = it.Partial.Slice(b)
			w.Literal(int64(len(b)), bytes.NewReader(b))
		case "BINARY", "BINARY.SIZE":
			b, ok := decoded[k]
			w.Raw(it.AppendResponseName(nil))
			w.SP()
			switch {
			case !ok:
				w.Nil()
			case it.Name == "BINARY.SIZE":
				w.Number64(uint64(len(b)))
			default:
				b = it.Partial.Slice(b)
				if bytes.IndexByte(b, 0) >= 0 {
					w.Literal8(int64(len(b)), bytes.NewReader(b))
				} else {
					w.Literal(int64(len(b)), bytes.NewReader(b))
				}
			}
		case "RFC822", "RFC822.HEADER", "RFC822.TEXT":
			b := raw
			switch it.Name {
			case "RFC822.HEADER":
				b = part.Header(raw)
			case "RFC822.TEXT":
				b = part.Body(raw)
			}
			w.Atom(it.Name)
			w.SP()
			w.Literal(int64(len(b)), bytes.NewReader(b))
		}
	}
	if seenNow && !wroteFlags {
		w.Atom(" FLAGS ")
		w.Raw(flags.resp)
	}
	if seenNow && v.caps.CondStore && !hasItem(plan.items, "MODSEQ") {
		// RFC 7162 §3.1: FETCH responses a flag change causes carry the
		// MODSEQ for a CONDSTORE-aware client.
		w.Atom(" MODSEQ (")
		w.Number64(f.info.modseq)
		w.Atom(")")
	}
	w.Atom(")")
	w.CRLF()
	return nil
}

// bodyStructure renders BODYSTRUCTURE (ext) or BODY in the form the
// client's protocol revision reads.
func (v *View) bodyStructure(p *message.Part, ext bool) []byte {
	if v.caps.Rev2 {
		return p.AppendBodyStructure(nil, ext)
	}
	return p.AppendBodyStructureRev1(nil, ext)
}
