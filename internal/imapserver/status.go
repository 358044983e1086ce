package imapserver

import (
	"github.com/posthorn/posthorn/internal/imap"
	"github.com/posthorn/posthorn/internal/store"
)

// STATUS (RFC 9051 §6.3.11) with SIZE (RFC 8438), HIGHESTMODSEQ (RFC
// 7162 §3.1.6), APPENDLIMIT (RFC 7889 §3) and IMAP4rev1's RECENT, always
// 0: the store keeps no \Recent flag (RFC 9051 dropped it).

// checkStatusItems refuses an unknown STATUS item (BAD).
func checkStatusItems(items []string) *imap.Error {
	for _, it := range items {
		switch it {
		case "MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE", "RECENT", "HIGHESTMODSEQ", "APPENDLIMIT":
		default:
			return &imap.Error{Status: imap.BAD, Text: "Unknown STATUS item " + it}
		}
	}
	return nil
}

// status is STATUS.
func (sess *session) status(a *imap.StatusArgs) response {
	if pe := checkStatusItems(a.Items); pe != nil {
		return fromError(pe)
	}
	name, valid := sess.decodeName(a.Mailbox)
	if !valid {
		return nonexistent
	}
	mb, err := sess.srv.store.Mailbox(sess.srv.readCtx, sess.acct.ID, name)
	if err != nil {
		return sess.mailboxError("STATUS", err)
	}
	if err := sess.writeStatus(mb, a.Items); err != nil {
		return sess.mailboxError("STATUS", err)
	}
	return ok("STATUS completed")
}

// writeStatus writes the STATUS response of mb for items (STATUS, and
// LIST-STATUS, RFC 5819).
func (sess *session) writeStatus(mb store.Mailbox, items []string) error {
	st, err := sess.srv.store.MailboxStatus(sess.srv.readCtx, mb.ID)
	if err != nil {
		return err
	}
	w := sess.out()
	w.Atom("* STATUS ")
	w.AString(sess.wireName(mb.Name))
	w.Atom(" (")
	for i, it := range items {
		if i > 0 {
			w.SP()
		}
		w.Atom(it)
		w.SP()
		switch it {
		case "MESSAGES":
			w.Number(uint32(st.Messages))
		case "UIDNEXT":
			w.Number(st.UIDNext)
		case "UIDVALIDITY":
			w.Number(st.UIDValidity)
		case "UNSEEN":
			w.Number(uint32(st.Unseen))
		case "DELETED":
			w.Number(uint32(st.Deleted))
		case "SIZE":
			w.Number64(uint64(st.Size))
		case "RECENT":
			w.Number(0)
		case "HIGHESTMODSEQ":
			// RFC 7162 §3.1: a CONDSTORE-enabling command.
			sess.caps.CondStore = true
			w.Number64(st.HighestModSeq)
		case "APPENDLIMIT":
			w.Number64(uint64(sess.srv.opts.MaxMessageSize))
		}
	}
	w.Atom(")\r\n")
	return nil
}
