package selected

import (
	"context"
	"errors"
	"slices"

	"github.com/posthorn/posthorn/internal/imap"
	"github.com/posthorn/posthorn/internal/store"
)

// Store is STORE and UID STORE (RFC 9051 §6.4.6) with UNCHANGEDSINCE
// (RFC 7162 §3.1.3): FETCH responses with the new FLAGS (UID for UID
// STORE, MODSEQ under CONDSTORE) unless .SILENT, and [MODIFIED set] for
// the messages whose MODSEQ was beyond UNCHANGEDSINCE. Under CONDSTORE a
// .SILENT STORE still reports the new MODSEQ of the messages it changed
// (RFC 7162 §3.1.3), without FLAGS.
func (v *View) Store(ctx context.Context, w *imap.Writer, args *imap.StoreArgs, uid bool) (Result, error) {
	if v.readOnly {
		return Result{}, errReadOnly
	}
	if args.HasUnchanged {
		v.caps.CondStore = true
	}
	sel, err := v.selection(ctx, w, args.Set, uid)
	if err != nil {
		return Result{}, err
	}
	uids := v.selectedUIDs(sel)
	if len(uids) == 0 {
		return Result{Text: "Store completed"}, nil
	}
	op := store.FlagsReplace
	switch args.Op {
	case imap.StoreAdd:
		op = store.FlagsAdd
	case imap.StoreRemove:
		op = store.FlagsRemove
	}
	since := uint64(0)
	if args.HasUnchanged {
		since = args.UnchangedSince
		if since == 0 {
			since = store.UnchangedSinceZero
		}
	}
	before := make(map[uint32]uint64, len(uids))
	v.s.mu.RLock()
	for _, u := range uids {
		if i := v.s.index(u); i >= 0 {
			before[u] = v.s.info[i].modseq
		}
	}
	v.s.mu.RUnlock()
	updated, failed, err := v.st.UpdateFlags(ctx, v.box.ID, uids, op, args.Flags, since)
	if errors.Is(err, store.ErrInvalid) {
		return Result{}, &imap.Error{Status: imap.BAD, Text: "Invalid flag"}
	}
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, ErrMailboxGone
	}
	if err != nil {
		return Result{}, err
	}
	v.s.applyUpdated(updated)

	// The sequence number of a UID of the view.
	pos := func(u uint32) uint32 {
		i, _ := slices.BinarySearch(v.uids, u)
		return uint32(i + 1)
	}
	for _, m := range updated {
		// Messages whose flags did not change keep their MODSEQ.
		changed := m.ModSeq != before[m.UID]
		if changed {
			v.noteReported(m.UID, m.ModSeq)
		}
		if args.Silent && !(v.caps.CondStore && changed) {
			continue
		}
		w.Untagged()
		w.Number(pos(m.UID))
		w.Atom(" FETCH (")
		sep := ""
		if !args.Silent {
			w.Atom("FLAGS ")
			w.Flags(m.Flags)
			sep = " "
		}
		if uid {
			w.Atom(sep + "UID ")
			w.Number(m.UID)
			sep = " "
		}
		if v.caps.CondStore {
			w.Atom(sep + "MODSEQ (")
			w.Number64(m.ModSeq)
			w.Atom(")")
		}
		w.Atom(")")
		w.CRLF()
	}
	missing := len(updated)+len(failed) < len(uids)
	if len(failed) > 0 {
		nums := failed
		if !uid {
			nums = make([]uint32, len(failed))
			for i, u := range failed {
				nums[i] = pos(u)
			}
		}
		return Result{Code: "MODIFIED " + imap.SeqSetOf(nums).String(), Text: "Conditional store failed"}, nil
	}
	if missing {
		return expungeIssued, nil
	}
	return Result{Text: "Store completed"}, nil
}
