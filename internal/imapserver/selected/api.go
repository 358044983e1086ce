package selected

import (
	"context"

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
// tag.
type Result struct{ Code, Text string }

// errNotYet answers the commands that are not implemented yet.
var errNotYet = &imap.Error{Status: imap.NO, Text: "not implemented yet"}

// View is one session's view of its selected mailbox. It is used by one
// session goroutine at a time; Changed may be read from another.
type View struct {
	st       store.Store
	box      store.Mailbox
	readOnly bool
	caps     *Caps
	changed  chan struct{}
}

// Open selects box (EXAMINE when readOnly) and writes the untagged
// responses of SELECT/EXAMINE (RFC 9051 §6.3.2, RFC 7162 §3.1.2 and
// §3.2.5): FLAGS, EXISTS, RECENT for IMAP4rev1, LIST for IMAP4rev2, OK
// [UIDVALIDITY], [UIDNEXT], [PERMANENTFLAGS], [HIGHESTMODSEQ] and for
// QRESYNC VANISHED (EARLIER) and FETCH. The session then writes the tagged
// OK [READ-WRITE] or [READ-ONLY].
func Open(ctx context.Context, st store.Store, box store.Mailbox, readOnly bool, caps *Caps, args *imap.SelectArgs, w *imap.Writer) (*View, error) {
	return nil, errNotYet
}

// Fetch is FETCH and UID FETCH.
func (v *View) Fetch(ctx context.Context, w *imap.Writer, args *imap.FetchArgs, uid bool) (Result, error) {
	return Result{}, errNotYet
}

// Store is STORE and UID STORE.
func (v *View) Store(ctx context.Context, w *imap.Writer, args *imap.StoreArgs, uid bool) (Result, error) {
	return Result{}, errNotYet
}

// Search is SEARCH and UID SEARCH.
func (v *View) Search(ctx context.Context, w *imap.Writer, args *imap.SearchArgs, uid bool) (Result, error) {
	return Result{}, errNotYet
}

// Copy is COPY and UID COPY into dest, a mailbox of the same account.
func (v *View) Copy(ctx context.Context, w *imap.Writer, set imap.SeqSet, uid bool, dest store.Mailbox) (Result, error) {
	return Result{}, errNotYet
}

// Move is MOVE and UID MOVE into dest (RFC 6851).
func (v *View) Move(ctx context.Context, w *imap.Writer, set imap.SeqSet, uid bool, dest store.Mailbox) (Result, error) {
	return Result{}, errNotYet
}

// Expunge is EXPUNGE (uidSet nil) or UID EXPUNGE (RFC 4315).
func (v *View) Expunge(ctx context.Context, w *imap.Writer, uidSet *imap.SeqSet) (Result, error) {
	return Result{}, errNotYet
}

// Close is CLOSE's silent expunge (nothing when read-only) followed by
// Release. UNSELECT just calls Release.
func (v *View) Close(ctx context.Context) error {
	v.Release()
	return nil
}

// Sync writes the pending untagged updates: EXISTS, FETCH FLAGS, and with
// allowExpunge EXPUNGE or VANISHED (RFC 9051 §7.5.2 and §5.5, RFC 7162
// §3.2.10). The session calls it after each command before the tagged
// response (allowExpunge false after FETCH, STORE and SEARCH and their UID
// forms) and during IDLE.
func (v *View) Sync(ctx context.Context, w *imap.Writer, allowExpunge bool) error {
	return nil
}

// Changed fires when the mailbox may have changed; the session waits on it
// during IDLE and then calls Sync.
func (v *View) Changed() <-chan struct{} { return v.changed }

// Mailbox returns the selected mailbox.
func (v *View) Mailbox() store.Mailbox { return v.box }

// ReadOnly reports whether the mailbox was opened with EXAMINE.
func (v *View) ReadOnly() bool { return v.readOnly }

// Release ends the selection; the View must not be used afterwards.
func (v *View) Release() {}
