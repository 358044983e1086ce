package imapserver

import (
	"github.com/posthorn/posthorn/internal/imap"
)

// QUOTA (RFC 9208): one quota root per account, named "", with the
// STORAGE resource in units of 1024 octets: the account's Usage against
// its QuotaBytes. An account without a quota has no quota root.

// quotaRoot is the name of the account's quota root.
const quotaRoot = ""

// quotaLimit returns the account's quota in bytes (0: none) and its usage.
func (sess *session) quotaLimit() (limit, usage int64, err error) {
	acct, err := sess.srv.store.Account(sess.srv.readCtx, sess.acct.Address)
	if err != nil {
		return 0, 0, err
	}
	if acct.QuotaBytes <= 0 {
		return 0, 0, nil
	}
	usage, err = sess.srv.store.Usage(sess.srv.readCtx, sess.acct.ID)
	return acct.QuotaBytes, usage, err
}

// checkQuota refuses an APPEND literal that cannot fit before it is sent
// (RFC 9208 §5.2: NO [OVERQUOTA]); the store checks again when storing.
func (sess *session) checkQuota(size int64) error {
	limit, usage, err := sess.quotaLimit()
	if err != nil || limit == 0 || usage+size <= limit {
		return nil
	}
	return &imap.Error{Status: imap.NO, Code: "OVERQUOTA", Text: "Quota exceeded"}
}

// writeQuota writes the QUOTA response of the account's root.
func (sess *session) writeQuota(limit, usage int64) {
	w := sess.out()
	w.Atom("* QUOTA ")
	w.String(quotaRoot)
	w.Atom(" (STORAGE ")
	w.Number64(uint64((usage + 1023) / 1024))
	w.SP()
	w.Number64(uint64(limit / 1024))
	w.Atom(")\r\n")
}

// getQuota is GETQUOTA (RFC 9208 §4.2).
func (sess *session) getQuota(a *imap.QuotaArgs) response {
	limit, usage, err := sess.quotaLimit()
	if err != nil {
		return sess.internalError("GETQUOTA", err)
	}
	if a.Root != quotaRoot || limit == 0 {
		return nonexistent
	}
	sess.writeQuota(limit, usage)
	return ok("GETQUOTA completed")
}

// getQuotaRoot is GETQUOTAROOT (RFC 9208 §4.3).
func (sess *session) getQuotaRoot(a *imap.MailboxArgs) response {
	name, valid := sess.decodeName(a.Mailbox)
	if !valid {
		return nonexistent
	}
	if _, err := sess.srv.store.Mailbox(sess.srv.readCtx, sess.acct.ID, name); err != nil {
		return sess.mailboxError("GETQUOTAROOT", err)
	}
	limit, usage, err := sess.quotaLimit()
	if err != nil {
		return sess.internalError("GETQUOTAROOT", err)
	}
	w := sess.out()
	w.Atom("* QUOTAROOT ")
	w.AString(sess.wireName(name))
	if limit > 0 {
		w.SP()
		w.String(quotaRoot)
	}
	w.CRLF()
	if limit > 0 {
		sess.writeQuota(limit, usage)
	}
	return ok("GETQUOTAROOT completed")
}
