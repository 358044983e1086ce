package selected

import (
	"context"
	"errors"

	"github.com/posthorn/posthorn/internal/imap"
	"github.com/posthorn/posthorn/internal/store"
)

// Copy is COPY and UID COPY into dest, a mailbox of the same account (RFC
// 9051 §6.4.7), answered with [COPYUID] (RFC 4315 §3).
func (v *View) Copy(ctx context.Context, w *imap.Writer, set imap.SeqSet, uid bool, dest store.Mailbox) (Result, error) {
	src, dst, err := v.transfer(ctx, w, set, uid, dest, false)
	if err != nil || len(src) == 0 {
		return Result{Text: "No messages copied"}, err
	}
	return Result{Code: copyUID(dest, src, dst), Text: "Copy completed"}, nil
}

// Move is MOVE and UID MOVE into dest (RFC 6851): the copy and the
// expunge are one store transaction; [COPYUID] goes in an untagged OK
// before the EXPUNGE or VANISHED responses (RFC 6851 §4.3), which include
// any other expunges pending for this session.
func (v *View) Move(ctx context.Context, w *imap.Writer, set imap.SeqSet, uid bool, dest store.Mailbox) (Result, error) {
	if v.readOnly {
		return Result{}, errReadOnly
	}
	src, dst, err := v.transfer(ctx, w, set, uid, dest, true)
	if err != nil || len(src) == 0 {
		return Result{Text: "No messages moved"}, err
	}
	w.Status("", imap.OK, copyUID(dest, src, dst), "Moved")
	s := v.s
	s.applyExpunged(src)
	s.mu.RLock()
	v.writeExpunges(w)
	s.mu.RUnlock()
	return Result{Text: "Move completed"}, w.Err()
}

// transfer copies or moves the messages of set; it fails with
// EXPUNGEISSUED when none of them exists any more.
func (v *View) transfer(ctx context.Context, w *imap.Writer, set imap.SeqSet, uid bool, dest store.Mailbox, move bool) (src, dst []uint32, err error) {
	sel, err := v.selection(ctx, w, set, uid)
	if err != nil {
		return nil, nil, err
	}
	uids := v.selectedUIDs(sel)
	if len(uids) == 0 {
		return nil, nil, nil
	}
	if move {
		src, dst, err = v.st.Move(ctx, v.box.ID, uids, dest.ID)
	} else {
		src, dst, err = v.st.Copy(ctx, v.box.ID, uids, dest.ID)
	}
	switch {
	case errors.Is(err, store.ErrOverQuota):
		return nil, nil, &imap.Error{Status: imap.NO, Code: "OVERQUOTA", Text: "Quota exceeded"}
	case errors.Is(err, store.ErrNotFound):
		// The destination went away after the session resolved it (or
		// the selected mailbox did).
		return nil, nil, &imap.Error{Status: imap.NO, Code: "TRYCREATE", Text: "No such mailbox"}
	case errors.Is(err, store.ErrInvalid):
		return nil, nil, &imap.Error{Status: imap.NO, Text: "Cannot copy there"}
	case err != nil:
		return nil, nil, err
	}
	if len(src) == 0 {
		return nil, nil, errExpungeIssued
	}
	return src, dst, nil
}

// copyUID is the COPYUID response code (RFC 4315 §3): both sets list the
// UIDs in the same order, ascending.
func copyUID(dest store.Mailbox, src, dst []uint32) string {
	return "COPYUID " + itoa(uint64(dest.UIDValidity)) + " " + imap.SeqSetOf(src).String() + " " + imap.SeqSetOf(dst).String()
}

// Expunge is EXPUNGE (uidSet nil) or UID EXPUNGE (RFC 4315 §2.1): it
// removes the messages marked \Deleted (of uidSet) and reports them, with
// any other pending expunges, as EXPUNGE or, under QRESYNC, VANISHED.
func (v *View) Expunge(ctx context.Context, w *imap.Writer, uidSet *imap.SeqSet) (Result, error) {
	if v.readOnly {
		return Result{}, errReadOnly
	}
	var uids []uint32
	if uidSet != nil {
		sel, err := v.selection(ctx, w, *uidSet, true)
		if err != nil {
			return Result{}, err
		}
		if uids = v.selectedUIDs(sel); len(uids) == 0 {
			return Result{Text: "Expunge completed"}, nil
		}
	}
	removed, err := v.st.Expunge(ctx, v.box.ID, uids)
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, ErrMailboxGone
	}
	if err != nil {
		return Result{}, err
	}
	s := v.s
	s.applyExpunged(removed)
	s.mu.RLock()
	if v.gen != s.gen {
		v.writeExpunges(w)
	}
	s.mu.RUnlock()
	return Result{Text: "Expunge completed"}, w.Err()
}

// Close is CLOSE's silent expunge of the messages marked \Deleted
// (nothing when read-only, RFC 9051 §6.4.1) followed by Release. UNSELECT
// just calls Release.
func (v *View) Close(ctx context.Context) error {
	defer v.Release()
	if v.readOnly {
		return nil
	}
	removed, err := v.st.Expunge(ctx, v.box.ID, nil)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	v.s.applyExpunged(removed)
	return nil
}
