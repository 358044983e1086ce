package selected

import (
	"context"

	"github.com/posthorn/posthorn/internal/imap"
)

// Sync writes the pending untagged updates: EXPUNGE or VANISHED (only
// when allowExpunge), EXISTS, and FETCH FLAGS (with UID, and MODSEQ under
// CONDSTORE) for flags others changed (RFC 9051 §7.5.2 and §5.5, RFC 7162
// §3.2.10). The session calls it after each command, before the tagged
// response (allowExpunge false after FETCH, STORE and SEARCH and their UID
// forms, RFC 9051 §7.5.2), and during IDLE when Changed fires.
// ErrMailboxGone means the mailbox was deleted meanwhile.
func (v *View) Sync(ctx context.Context, w *imap.Writer, allowExpunge bool) error {
	if err := v.s.refresh(ctx); err != nil {
		return err
	}
	s := v.s
	s.mu.RLock()
	defer s.mu.RUnlock()
	if allowExpunge && v.gen != s.gen {
		v.writeExpunges(w)
	}
	known := len(v.uids)
	v.catchUp(w)
	v.writeFlagChanges(w, known)
	return w.Err()
}

// writeExpunges reports messages the state no longer has and takes the
// state's UID array; s.mu read-held.
func (v *View) writeExpunges(w *imap.Writer) {
	s := v.s
	var gone []uint32 // UIDs
	var seqs []uint32 // their sequence numbers
	j := 0
	for i, uid := range v.uids {
		for j < len(s.uids) && s.uids[j] < uid {
			j++
		}
		if j < len(s.uids) && s.uids[j] == uid {
			continue
		}
		gone = append(gone, uid)
		seqs = append(seqs, uint32(i+1))
	}
	if len(gone) > 0 {
		if v.caps.QResync {
			// RFC 7162 §3.2.10: VANISHED replaces EXPUNGE.
			w.Untagged()
			w.Atom("VANISHED ")
			w.SeqSet(imap.SeqSetOf(gone))
			w.CRLF()
		} else {
			// Highest first, so each number is still the one the client
			// knows.
			for k := len(seqs) - 1; k >= 0; k-- {
				w.Untagged()
				w.Number(seqs[k])
				w.Atom(" EXPUNGE")
				w.CRLF()
			}
		}
		for _, uid := range gone {
			delete(v.reported, uid)
		}
	}
	// Every message the view had is now either gone or in the state's
	// array, in the same order: the view can share that array.
	n := len(v.uids) - len(gone)
	v.uids, v.gen = s.uids[:n:n], s.gen
}

// catchUp adds the messages that arrived and announces them with EXISTS;
// s.mu read-held.
func (v *View) catchUp(w *imap.Writer) {
	s := v.s
	var last uint32
	if n := len(v.uids); n > 0 {
		last = v.uids[n-1]
	}
	if v.gen == s.gen {
		if len(s.uids) == len(v.uids) {
			return
		}
		v.uids = s.uids[:len(s.uids):len(s.uids)]
	} else {
		// Expunges still pending: the view keeps its own array.
		i := len(s.uids)
		for i > 0 && s.uids[i-1] > last {
			i--
		}
		if i == len(s.uids) {
			return
		}
		v.uids = append(v.uids[:len(v.uids):len(v.uids)], s.uids[i:]...)
		v.gen = 0
	}
	w.Untagged()
	w.Number(uint32(len(v.uids)))
	w.Atom(" EXISTS")
	w.CRLF()
}

// writeFlagChanges sends FETCH for flags changed since the view last
// looked, except changes it reported itself, for the first known messages
// (the others were just announced by EXISTS); s.mu read-held.
func (v *View) writeFlagChanges(w *imap.Writer, known int) {
	s := v.s
	if s.flagMod > v.seen {
		for seq, uid := range v.uids[:known] {
			i := v.stateIndex(seq, uid)
			if i < 0 {
				continue
			}
			in := &s.info[i]
			if in.modseq <= v.seen {
				continue
			}
			if m, ok := v.reported[uid]; ok && m >= in.modseq {
				continue
			}
			v.writeFlags(w, uint32(seq+1), uid, in)
			if in.modseq > s.complete {
				v.noteReported(uid, in.modseq)
			}
		}
	}
	v.noteNew(known)
	v.seen = max(v.seen, s.complete)
	for uid, m := range v.reported {
		if m <= v.seen {
			delete(v.reported, uid)
		}
	}
}

// noteNew marks the flags of the messages after known as reported: the
// client learns them when it fetches the new messages; s.mu read-held.
func (v *View) noteNew(known int) {
	s := v.s
	for seq := known; seq < len(v.uids); seq++ {
		if i := v.stateIndex(seq, v.uids[seq]); i >= 0 && s.info[i].modseq > s.complete {
			v.noteReported(v.uids[seq], s.info[i].modseq)
		}
	}
}

// writeFlags writes "* seq FETCH (UID u FLAGS (...) [MODSEQ (m)])";
// s.mu read-held.
func (v *View) writeFlags(w *imap.Writer, seq, uid uint32, in *msgInfo) {
	w.Untagged()
	w.Number(seq)
	w.Atom(" FETCH (UID ")
	w.Number(uid)
	w.Atom(" FLAGS ")
	w.Raw(v.s.flags.sets[in.flags].resp)
	if v.caps.CondStore {
		w.Atom(" MODSEQ (")
		w.Number64(in.modseq)
		w.Atom(")")
	}
	w.Atom(")")
	w.CRLF()
}

// stateIndex returns the state's index of the message at view position
// seq (0-based) with the given UID, or -1 if the state no longer has it;
// s.mu read-held.
func (v *View) stateIndex(seq int, uid uint32) int {
	s := v.s
	if v.gen == s.gen && seq < len(s.uids) {
		return seq
	}
	return s.index(uid)
}

// announceNew refreshes the state and announces new messages with EXISTS
// (allowed at any time, RFC 9051 §7.4.1), so that a UID command can name
// a message that arrived after the client last heard from the server.
func (v *View) announceNew(ctx context.Context, w *imap.Writer) error {
	if err := v.s.refresh(ctx); err != nil {
		return err
	}
	v.s.mu.RLock()
	defer v.s.mu.RUnlock()
	known := len(v.uids)
	v.catchUp(w)
	v.noteNew(known)
	return nil
}
