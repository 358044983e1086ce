package imapserver

import (
	"errors"

	"github.com/posthorn/posthorn/internal/imap"
	"github.com/posthorn/posthorn/internal/imapserver/selected"
	"github.com/posthorn/posthorn/internal/store"
)

// The selected state (RFC 9051 §6.3.2-3, §6.4): SELECT and EXAMINE open
// a selected.View, which runs every command on the mailbox; this file
// only routes them and keeps the state.

// selection is the session's selected mailbox, if any.
type selection struct {
	view *selected.View
}

// selectCmd is SELECT and EXAMINE. A failed SELECT leaves the session in
// the authenticated state, with the previous mailbox closed (RFC 9051
// §6.3.2); under IMAP4rev2 or QRESYNC the closing is announced with
// "* OK [CLOSED]" (RFC 7162 §3.2.11).
func (sess *session) selectCmd(a *imap.SelectArgs, readOnly bool) response {
	if a.QResync != nil && !sess.caps.QResync {
		return bad("QRESYNC parameter without ENABLE QRESYNC")
	}
	if sess.sel.view != nil {
		sess.unselect()
		if sess.caps.Rev2 || sess.caps.QResync {
			sess.out().Status("", imap.OK, "CLOSED", "Previous mailbox closed")
		}
	}
	name, valid := sess.decodeName(a.Mailbox)
	if !valid {
		return nonexistent
	}
	mb, err := sess.srv.store.Mailbox(sess.srv.readCtx, sess.acct.ID, name)
	if err != nil {
		return sess.mailboxError("SELECT", err)
	}
	v, err := selected.Open(sess.srv.readCtx, sess.srv.store, mb, readOnly, &sess.caps, a, sess.out())
	if err != nil {
		return sess.internalError("SELECT", err)
	}
	sess.sel.view, sess.state = v, stateSelected
	if readOnly {
		return okCode("READ-ONLY", "EXAMINE completed")
	}
	return okCode("READ-WRITE", "SELECT completed")
}

// unselect releases the selected mailbox, if any, without expunging.
func (sess *session) unselect() {
	if sess.sel.view != nil {
		sess.sel.view.Release()
		sess.sel.view = nil
	}
	if sess.state == stateSelected {
		sess.state = stateAuth
	}
}

// syncSelected writes the pending updates of the selected mailbox. It
// reports false when the mailbox was deleted meanwhile.
func (sess *session) syncSelected(w *imap.Writer, allowExpunge bool) bool {
	v := sess.sel.view
	if v == nil {
		return true
	}
	err := v.Sync(sess.srv.readCtx, w, allowExpunge)
	if errors.Is(err, selected.ErrMailboxGone) {
		return false
	}
	if err != nil {
		sess.srv.log.Error("imap sync", "conn", sess.id, "account", sess.acct.Address, "err", err)
	}
	return true
}

// mailboxGone answers a command on a selected mailbox another session
// deleted: there is nothing left to work on, and the session ends, as
// Dovecot does, so that the client starts over (RFC 9051 leaves the
// response open).
func (sess *session) mailboxGone() response {
	sess.reason = "selected mailbox deleted"
	return response{status: imap.NO, code: "NONEXISTENT", text: "Selected mailbox was deleted",
		bye: "Selected mailbox was deleted, closing", close: true}
}

// destination resolves the target mailbox of COPY and MOVE; a missing
// one is answered NO [TRYCREATE] (RFC 9051 §6.4.7).
func (sess *session) destination(wire string) (store.Mailbox, *response) {
	name, valid := sess.decodeName(wire)
	if !valid {
		r := no("TRYCREATE", "No such mailbox")
		return store.Mailbox{}, &r
	}
	mb, err := sess.srv.store.Mailbox(sess.srv.readCtx, sess.acct.ID, name)
	if err != nil {
		r := sess.mailboxError("resolving a mailbox", err)
		if r.code == "NONEXISTENT" {
			r.code = "TRYCREATE"
		}
		return store.Mailbox{}, &r
	}
	return mb, nil
}

// dispatchSelected runs SELECT, EXAMINE and the commands of the selected
// state.
func (sess *session) dispatchSelected(cmd *imap.Command) response {
	ctx, v := sess.srv.readCtx, sess.sel.view
	switch cmd.Name {
	case "SELECT", "EXAMINE":
		return sess.selectCmd(cmd.Args.(*imap.SelectArgs), cmd.Name == "EXAMINE")
	case "CLOSE":
		// RFC 9051 §6.4.1: the silent expunge; no [CLOSED].
		sess.sel.view = nil
		sess.state = stateAuth
		if err := v.Close(ctx); err != nil {
			return sess.internalError("CLOSE", err)
		}
		return ok("CLOSE completed")
	case "UNSELECT":
		sess.unselect()
		return ok("UNSELECT completed")
	}
	var res selected.Result
	var err error
	switch cmd.Name {
	case "FETCH":
		res, err = v.Fetch(ctx, sess.out(), cmd.Args.(*imap.FetchArgs), cmd.UID)
	case "STORE":
		res, err = v.Store(ctx, sess.out(), cmd.Args.(*imap.StoreArgs), cmd.UID)
	case "SEARCH":
		res, err = v.SearchTagged(ctx, sess.out(), cmd.Tag, cmd.Args.(*imap.SearchArgs), cmd.UID)
	case "COPY", "MOVE":
		a := cmd.Args.(*imap.CopyArgs)
		dest, refusal := sess.destination(a.Mailbox)
		if refusal != nil {
			return *refusal
		}
		if cmd.Name == "COPY" {
			res, err = v.Copy(ctx, sess.out(), a.Set, cmd.UID, dest)
		} else {
			res, err = v.Move(ctx, sess.out(), a.Set, cmd.UID, dest)
		}
	case "EXPUNGE":
		var set *imap.SeqSet
		if cmd.UID {
			set = &cmd.Args.(*imap.ExpungeArgs).Set
		}
		res, err = v.Expunge(ctx, sess.out(), set)
	default:
		return bad("Unknown command")
	}
	if err != nil {
		if errors.Is(err, selected.ErrMailboxGone) {
			return sess.mailboxGone()
		}
		return sess.internalError(cmd.Name, err)
	}
	name := cmd.Name
	if cmd.UID {
		name = "UID " + name
	}
	if res.Text == "" {
		res.Text = name + " completed"
	}
	return okCode(res.Code, res.Text)
}
