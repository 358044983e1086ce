package imapserver

import (
	"errors"

	"github.com/posthorn/posthorn/internal/imap"
	"github.com/posthorn/posthorn/internal/store"
)

// CREATE, DELETE, RENAME, SUBSCRIBE and UNSUBSCRIBE (RFC 9051 §6.3.4-8).
//
// The store has no \Noselect mailboxes: every name in it is a real
// mailbox. CREATE makes the missing levels above a new name as ordinary
// mailboxes (RFC 9051 §6.3.4 SHOULD). DELETE of a mailbox with children
// removes it and its messages and leaves the children; the deleted name
// then shows in LIST as "\Noselect \HasChildren" (inferred from the
// children, as in RFC 9051 §6.3.5's example), cannot be selected, and
// comes back as a real mailbox with a new UIDVALIDITY when created
// again.

// create is CREATE, with USE (RFC 6154 §3).
func (sess *session) create(a *imap.CreateArgs) response {
	name, valid := sess.decodeName(a.Mailbox)
	if !valid {
		return errBadName
	}
	if name == store.Inbox {
		return no("ALREADYEXISTS", "INBOX always exists")
	}
	use := store.UseNone
	switch len(a.Use) {
	case 0:
	case 1:
		switch u := store.SpecialUse(a.Use[0]); u {
		case store.UseSent, store.UseDrafts, store.UseTrash, store.UseJunk, store.UseArchive:
			use = u
		default:
			return no("USEATTR", "Unsupported special-use attribute")
		}
	default:
		return no("USEATTR", "Only one special-use attribute per mailbox")
	}
	ctx := sess.srv.readCtx
	for _, p := range parents(name) {
		_, err := sess.srv.store.CreateMailbox(ctx, sess.acct.ID, p, store.UseNone)
		if err != nil && !errors.Is(err, store.ErrExists) {
			return sess.mailboxError("creating a parent mailbox", err)
		}
	}
	if _, err := sess.srv.store.CreateMailbox(ctx, sess.acct.ID, name, use); err != nil {
		return sess.mailboxError("creating a mailbox", err)
	}
	return ok("CREATE completed")
}

// deleteCmd is DELETE (RFC 9051 §6.3.5).
func (sess *session) deleteCmd(a *imap.MailboxArgs) response {
	name, valid := sess.decodeName(a.Mailbox)
	if !valid {
		return nonexistent
	}
	if name == store.Inbox {
		return no("CANNOT", "INBOX cannot be deleted")
	}
	if v := sess.sel.view; v != nil {
		// By id: the selected mailbox may have been renamed since.
		mb, err := sess.srv.store.Mailbox(sess.srv.readCtx, sess.acct.ID, name)
		if err == nil && mb.ID == v.Mailbox().ID {
			return no("INUSE", "Mailbox is selected; CLOSE or UNSELECT it first")
		}
	}
	if err := sess.srv.store.DeleteMailbox(sess.srv.readCtx, sess.acct.ID, name); err != nil {
		return sess.mailboxError("deleting a mailbox", err)
	}
	return ok("DELETE completed")
}

// rename is RENAME (RFC 9051 §6.3.6). Children move along. Renaming
// INBOX moves its messages into a new mailbox and leaves INBOX empty,
// with its UIDVALIDITY; INBOX's children stay where they are.
func (sess *session) rename(a *imap.RenameArgs) response {
	from, valid := sess.decodeName(a.From)
	if !valid {
		return nonexistent
	}
	to, valid := sess.decodeName(a.To)
	if !valid {
		return errBadName
	}
	if to == store.Inbox {
		return no("ALREADYEXISTS", "INBOX always exists")
	}
	ctx, st := sess.srv.readCtx, sess.srv.store
	if _, err := st.Mailbox(ctx, sess.acct.ID, from); err != nil {
		return sess.mailboxError("renaming a mailbox", err)
	}
	if _, err := st.Mailbox(ctx, sess.acct.ID, to); err == nil {
		return no("ALREADYEXISTS", "Target mailbox exists")
	}
	for _, p := range parents(to) {
		if p == from {
			return no("CANNOT", "Cannot move a mailbox into itself")
		}
		_, err := st.CreateMailbox(ctx, sess.acct.ID, p, store.UseNone)
		if err != nil && !errors.Is(err, store.ErrExists) {
			return sess.mailboxError("creating a parent mailbox", err)
		}
	}
	if from == store.Inbox {
		return sess.renameInbox(to)
	}
	if err := st.RenameMailbox(ctx, sess.acct.ID, from, to); err != nil {
		return sess.mailboxError("renaming a mailbox", err)
	}
	return ok("RENAME completed")
}

// renameInbox is RENAME INBOX: a new mailbox takes all of INBOX's
// messages (RFC 9051 §6.3.6).
func (sess *session) renameInbox(to string) response {
	ctx, st := sess.srv.readCtx, sess.srv.store
	inbox, err := st.Mailbox(ctx, sess.acct.ID, store.Inbox)
	if err != nil {
		return sess.mailboxError("renaming INBOX", err)
	}
	dest, err := st.CreateMailbox(ctx, sess.acct.ID, to, store.UseNone)
	if err != nil {
		return sess.mailboxError("renaming INBOX", err)
	}
	msgs, err := st.Messages(ctx, inbox.ID)
	if err != nil {
		return sess.internalError("renaming INBOX", err)
	}
	if len(msgs) == 0 {
		return ok("RENAME completed")
	}
	uids := make([]uint32, len(msgs))
	for i, m := range msgs {
		uids[i] = m.UID
	}
	if _, _, err := st.Move(ctx, inbox.ID, uids, dest.ID); err != nil {
		return sess.mailboxError("renaming INBOX", err)
	}
	return ok("RENAME completed")
}

// subscribe is SUBSCRIBE and UNSUBSCRIBE (RFC 9051 §6.3.7-8). The
// subscription is a property of the mailbox: a name that does not exist
// cannot be subscribed, and deleting a mailbox drops its subscription.
func (sess *session) subscribe(a *imap.MailboxArgs, on bool) response {
	name, valid := sess.decodeName(a.Mailbox)
	if !valid {
		return nonexistent
	}
	if err := sess.srv.store.SetSubscribed(sess.srv.readCtx, sess.acct.ID, name, on); err != nil {
		return sess.mailboxError("subscribing", err)
	}
	if on {
		return ok("SUBSCRIBE completed")
	}
	return ok("UNSUBSCRIBE completed")
}

// mailboxError maps store errors about mailboxes to answers (RFC 5530).
func (sess *session) mailboxError(what string, err error) response {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nonexistent
	case errors.Is(err, store.ErrExists):
		return no("ALREADYEXISTS", "Mailbox already exists")
	case errors.Is(err, store.ErrInvalid):
		return errBadName
	}
	return sess.internalError(what, err)
}
