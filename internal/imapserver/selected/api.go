package selected

import (
	"github.com/posthorn/posthorn/internal/imap"
	"github.com/posthorn/posthorn/internal/store"
)

// Caps are the session's negotiated features. The session owns the struct
// and may change it between commands (ENABLE); a command that uses
// CONDSTORE turns it on implicitly (RFC 7162 §3.1), and the View sets
// CondStore itself then.
type Caps struct{ Rev2, UTF8, CondStore, QResync bool }

// Result is a command's tagged OK: Code without brackets ("COPYUID 7 1:3
// 10:12", "MODIFIED 7,9", ...) and Text. Refusals are returned as
// *imap.Error (NO or BAD with a code), which the session writes with the
// tag; any other error is an I/O or store failure (the session answers NO
// or closes the connection).
type Result struct{ Code, Text string }

// View is one session's view of its selected mailbox: the message sequence
// numbers as the client knows them, and what it has been told. It is used
// by one session goroutine at a time; Notify's callback runs on another.
type View struct {
	st       store.Store
	box      store.Mailbox
	readOnly bool
	caps     *Caps
	s        *mailboxState
	notify   func() // under s.viewsMu
	released bool

	// uids maps sequence number n to uids[n-1]. While gen equals the
	// state's gen, uids is a prefix of the state's UID array and shares
	// it (no copy per session); after an expunge the client has not been
	// told yet, it is the session's own (gen 0).
	uids []uint32
	gen  uint64
	// seen: flag changes with MODSEQ up to seen have been reported (or
	// were there when the mailbox was selected). reported holds flag
	// states beyond seen that this session already sent (uid → MODSEQ),
	// so Sync does not repeat them.
	seen     uint64
	reported map[uint32]uint64
	// saved is the SEARCHRES result ("$", RFC 5182), as UIDs.
	saved []uint32
}

// Notify makes the View call f when the mailbox may have changed, from
// another goroutine, which f must not block (the session starts a
// goroutine that calls Sync); nil stops it. A session sets it for IDLE.
func (v *View) Notify(f func()) {
	v.s.viewsMu.Lock()
	v.notify = f
	v.s.viewsMu.Unlock()
}

// Mailbox returns the selected mailbox.
func (v *View) Mailbox() store.Mailbox { return v.box }

// ReadOnly reports whether the mailbox was opened with EXAMINE.
func (v *View) ReadOnly() bool { return v.readOnly }

// Release ends the selection; the View must not be used afterwards.
// Calling it twice is harmless.
func (v *View) Release() {
	if v.released {
		return
	}
	v.released = true
	v.s.removeView(v)
	v.s.release()
	v.uids, v.saved, v.reported = nil, nil, nil
}

// errReadOnly refuses changes to a mailbox opened with EXAMINE.
var errReadOnly = &imap.Error{Status: imap.NO, Code: "READ-ONLY", Text: "Mailbox is read-only"}

// expungeIssued is the tagged OK of a FETCH or STORE some of whose
// messages another session expunged meanwhile (RFC 5530 EXPUNGEISSUED):
// the rest is done, and the client learns of the expunge at its next
// command that allows it. OK, not NO, as Cyrus and RFC 2180 §4.1 allow:
// the command did all that could be done.
var expungeIssued = Result{Code: "EXPUNGEISSUED", Text: "Some of the requested messages no longer exist"}

// errExpungeIssued refuses a COPY or MOVE none of whose messages exists
// any more.
var errExpungeIssued = &imap.Error{Status: imap.NO, Code: "EXPUNGEISSUED", Text: "The requested messages no longer exist"}
