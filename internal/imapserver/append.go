package imapserver

import (
	"errors"
	"fmt"

	"github.com/posthorn/posthorn/internal/imap"
	"github.com/posthorn/posthorn/internal/store"
)

// appendCmd is APPEND (RFC 9051 §6.3.12) with APPENDUID (RFC 4315 §3),
// APPENDLIMIT (RFC 7889; the codec refuses a larger literal with NO
// [TOOBIG] before the "+"), literal8 and UTF8 data (RFC 3516, RFC 6855
// §4, stored as sent) and quota (RFC 9208 §5.2: NO [OVERQUOTA]).
// MULTIAPPEND is not offered: the store appends one message at a time and
// RFC 3502 wants all or nothing.
//
// A message appended to the selected mailbox reaches this session like
// any other change, through the View's next Sync.
func (sess *session) appendCmd(a *imap.AppendArgs) response {
	if len(a.Messages) != 1 {
		return bad("One message per APPEND (MULTIAPPEND is not supported)")
	}
	m := a.Messages[0]
	if m.UTF8 && !sess.caps.UTF8 {
		return bad("UTF8 message data needs ENABLE UTF8=ACCEPT") // RFC 6855 §4
	}
	name, valid := sess.decodeName(a.Mailbox)
	if !valid {
		return no("TRYCREATE", "No such mailbox")
	}
	ctx := sess.srv.readCtx
	mb, err := sess.srv.store.Mailbox(ctx, sess.acct.ID, name)
	if err != nil {
		r := sess.mailboxError("APPEND", err)
		if r.code == "NONEXISTENT" {
			r.code = "TRYCREATE" // RFC 9051 §6.3.12
		}
		return r
	}
	if len(m.Data) == 0 {
		return no("CANNOT", "Empty message")
	}
	var flags []string
	for _, f := range m.Flags {
		if f != `\Recent` { // RFC 3501 §6.3.11: \Recent cannot be set
			flags = append(flags, f)
		}
	}
	msg, err := sess.srv.store.Append(ctx, mb.ID, store.AppendOptions{Flags: flags, InternalDate: m.Date}, m.Data)
	switch {
	case errors.Is(err, store.ErrOverQuota):
		return no("OVERQUOTA", "Quota exceeded")
	case errors.Is(err, store.ErrInvalid):
		return no("CANNOT", "Invalid flag or message")
	case err != nil:
		return sess.internalError("APPEND", err)
	}
	return okCode(fmt.Sprintf("APPENDUID %d %d", mb.UIDValidity, msg.UID), "APPEND completed")
}
