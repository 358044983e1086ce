// Package submission is the policy of the message submission roles (RFC
// 6409): port 587 with STARTTLS and port 465 with implicit TLS (RFC 8314).
// It plugs into smtpserver as its Backend, with smtpserver's AUTH support
// (Options.Authenticator, RequireAuth) in front of it:
//
//   - Nothing before a successful AUTH (RFC 4954), which the engine offers
//     only over TLS: MAIL is answered 530 5.7.0. So there is no relaying
//     for anonymous clients.
//   - MAIL FROM: the reverse-path must be an address the account owns (see
//     Sender rights below) or the null sender <> (RFC 8098 MDNs and the
//     like); else 550 5.7.1. A non-ASCII address needs SMTPUTF8 (RFC 6531
//     §3.4): 553 5.6.7.
//   - RCPT TO: a recipient in one of our domains is resolved with
//     store.Resolve (account, alias, subaddress, catch-all): unknown users
//     get 550 5.1.1 at once rather than a bounce later. Any other
//     recipient is for the outbound queue.
//   - DATA/BDAT: every address in the From: and Sender: header fields
//     must be owned too (550 5.7.1). RFC 6409 §8 fix-ups: Date (§8.2) and
//     Message-ID (§8.3) are added when missing, and From: is made from
//     the envelope sender when missing. A Received field records the
//     authenticated submission ("with ESMTPSA", RFC 3848), without the
//     client's IP address and helo when Options.HideClientIP is set.
//     Then Options.Signer adds DKIM signatures (RFC 6376, RSA and Ed25519
//     side by side, RFC 8463) for the domain of the first From: address
//     over the whole message, fix-ups included; the signed header
//     fields, oversigned ones and the rest of the policy are internal/dkim's.
//     Local recipients get the message in their INBOX (with Return-Path)
//     through store.Deliver, exactly as the MX role delivers; the other
//     recipients' copy goes into the durable outbound queue
//     (store.Queue.Enqueue), with REQUIRETLS (RFC 8689) recorded when
//     MAIL FROM carried it. The client gets 250 only after both are
//     durable. When the second write fails after the first succeeded the
//     client gets 451 and may send again: a duplicate is possible, a loss
//     is not.
//
// Everything after the protocol (Received, fix-ups, DKIM, queue and local
// delivery) is Backend.Send, which the HTTP API calls too (Outgoing), so
// mail submitted either way is traced, signed and stored alike.
//
// # Sender rights
//
// An account owns its address, the subaddresses of it (user+tag@, with
// the configured separator), and every alias whose targets include it;
// an account with MaySendAsDomain (posthorn account send-as ADDRESS
// domain) owns every address of its domain. A catch-all alias (@domain)
// grants nothing: receiving everyone's leftovers is not a licence to
// send as them.
//
// # Local submission
//
// With Options.Local the backend is the policy of the local submission
// socket that `posthorn sendmail` talks to (internal/peercred): there is
// no AUTH; the kernel names the local user, whose uid and login name go
// into the Received field ("from local (uid 33 www-data)", "with ESMTP").
// Sender rights are by domain, not by account: the envelope sender and
// every From: and Sender: address must be in one of our domains or at
// our hostname (550 5.7.1 otherwise) unless Options.LocalAnySender; the
// null sender is allowed. Everything else (fix-ups, DKIM signing, local
// delivery, the queue) is the same as for authenticated submission.
package submission

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/posthorn/posthorn/internal/peercred"
	"github.com/posthorn/posthorn/internal/received"
	"github.com/posthorn/posthorn/internal/smtp"
	"github.com/posthorn/posthorn/internal/smtpserver"
	"github.com/posthorn/posthorn/internal/store"
)

// Options configure the submission policy.
type Options struct {
	// Store holds the directory, the mailboxes and the outbound queue.
	Store store.Store
	// Hostname is our name in Received and in generated Message-IDs.
	Hostname string
	// SubaddressSeparator is the tag separator ("+" in user+tag@); ""
	// turns subaddressing off.
	SubaddressSeparator string
	// HideClientIP leaves the client's IP address and helo out of the
	// Received field.
	HideClientIP bool
	// Signer adds DKIM signatures (RFC 6376) to every message, for the
	// domain of its first From: address, before it is queued or
	// delivered; a domain without keys goes unsigned. Nil signs nothing.
	Signer Signer
	// Logger receives store failures and refusals. Nil discards.
	Logger *slog.Logger
	// Now is the clock for Received and Date. Nil means time.Now.
	Now func() time.Time
	// Local makes this the local submission policy (see Local submission
	// above): no AUTH, the connection's RemoteAddr is a *peercred.Addr.
	Local bool
	// LocalAnySender lets local users send as any address.
	LocalAnySender bool
	// Queued, when set, is called after each message enqueued for remote
	// recipients: the daemon wakes the delivery worker, which otherwise
	// looks at the queue only every second.
	Queued func()
}

// Signer makes the DKIM-Signature fields for a message (*dkim.Signer,
// *dkim.DirSigner): one or more header fields ending in CRLF, or an error
// wrapping dkim.ErrNoKey when domain has no keys.
type Signer interface {
	Sign(domain string, msg io.Reader) (string, error)
}

// Backend is the submission policy; it implements smtpserver.Backend.
type Backend struct {
	opts Options
	log  *slog.Logger
	now  func() time.Time
}

var _ smtpserver.Backend = (*Backend)(nil)

// New returns the submission policy.
func New(opts Options) *Backend {
	b := &Backend{opts: opts, log: opts.Logger, now: opts.Now}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.opts.Hostname == "" {
		b.opts.Hostname = "localhost"
	}
	return b
}

// NewSession implements smtpserver.Backend.
func (b *Backend) NewSession(ci smtpserver.ConnInfo) smtpserver.Session {
	if b.opts.Local {
		peer := "unknown user"
		if pa, ok := ci.RemoteAddr.(*peercred.Addr); ok {
			peer = pa.String()
		}
		return &session{b: b, ci: ci, local: peer, rc: received.Conn{By: b.opts.Hostname, Local: peer}}
	}
	var ip net.IP
	if ta, ok := ci.RemoteAddr.(*net.TCPAddr); ok {
		ip = ta.IP
	}
	return &session{b: b, ci: ci, rc: received.Conn{By: b.opts.Hostname, IP: ip, TLS: ci.TLS, HideClient: b.opts.HideClientIP}}
}

// Replies of the submission policy.
var (
	replyAuthRequired = &smtp.Reply{Code: 530, Enhanced: smtp.EnhancedCode{5, 7, 0}, Text: "Authentication required"}
	replyBadSender    = &smtp.Reply{Code: 501, Enhanced: smtp.EnhancedCode{5, 1, 7}, Text: "Bad sender address syntax"}
	replyBadRcpt      = &smtp.Reply{Code: 501, Enhanced: smtp.EnhancedCode{5, 1, 3}, Text: "Bad recipient address syntax"}
	replyNeedUTF8     = &smtp.Reply{Code: 553, Enhanced: smtp.EnhancedCode{5, 6, 7}, Text: "Non-ASCII address requires SMTPUTF8"}
	replyNotOwner     = &smtp.Reply{Code: 550, Enhanced: smtp.EnhancedCode{5, 7, 1}, Text: "Sender address not owned by the authenticated account"}
	replyFromNotOwner = &smtp.Reply{Code: 550, Enhanced: smtp.EnhancedCode{5, 7, 1}, Text: "From or Sender header address not owned by the authenticated account"}
	replyNotOurs      = &smtp.Reply{Code: 550, Enhanced: smtp.EnhancedCode{5, 7, 1}, Text: "Sender address not in one of our domains"}
	replyFromNotOurs  = &smtp.Reply{Code: 550, Enhanced: smtp.EnhancedCode{5, 7, 1}, Text: "From or Sender header address not in one of our domains"}
	replyUserUnknown  = &smtp.Reply{Code: 550, Enhanced: smtp.EnhancedCode{5, 1, 1}, Text: "User unknown"}
	replyNoRecipients = &smtp.Reply{Code: 503, Enhanced: smtp.EnhancedCode{5, 5, 1}, Text: "No valid recipients"}
	replySuppressed   = &smtp.Reply{Code: 550, Enhanced: smtp.EnhancedCode{5, 1, 1}, Text: "Recipient suppressed: on the sender domain's suppression list"}
)

type session struct {
	b     *Backend
	ci    smtpserver.ConnInfo
	rc    received.Conn
	acct  *store.Account // nil before AUTH, and in local mode
	local string         // the local user ("uid 33 www-data") in local mode

	// The current transaction.
	from       string // reverse-path, "" for <>
	utf8       bool
	requireTLS bool           // REQUIRETLS (RFC 8689): recorded with the queued copy
	rcpts      []string       // accepted recipients, as written
	targets    []store.Target // local accounts, one each
	remote     []string       // recipients for the outbound queue
	localRcpts []string       // local recipients, as written
	tracking   string         // the message's tracking id (events), "" for <>
	domain     string         // the sender domain its events belong to
	submitter  string         // the canonical reverse-path (store.Event.Submitter)

	signDomain string // the DKIM signing domain, set by checkHeader
}

var _ smtpserver.AuthSession = (*session)(nil)

// Authenticated implements smtpserver.AuthSession.
func (s *session) Authenticated(acct store.Account) { s.acct = &acct }

func (s *session) Mail(ctx context.Context, from string, opts smtpserver.MailOptions) error {
	s.reset()
	if !s.authorised() {
		return replyAuthRequired // the engine refuses first; be safe anyway
	}
	s.utf8, s.requireTLS = opts.UTF8, opts.RequireTLS
	if from == "" {
		return nil
	}
	a, err := smtp.ParseUnquotedAddress(from)
	if err != nil {
		return replyBadSender
	}
	if !opts.UTF8 && !a.IsASCII() {
		return replyNeedUTF8
	}
	ok, err := s.owns(ctx, a)
	if err != nil {
		s.b.log.Error("submission: checking sender rights", "conn", s.ci.ID, "id", opts.TxID, "err", err)
		return smtp.ReplyTempError
	}
	if !ok {
		s.b.log.Warn("submission: sender not owned", "conn", s.ci.ID, "id", opts.TxID, "user", s.user(), "from", a.String())
		if s.b.opts.Local {
			return replyNotOurs
		}
		return replyNotOwner
	}
	s.from = a.String()
	s.domain = strings.ToLower(a.Domain)
	s.submitter = a.Canonical()
	s.tracking = store.NewTrackingID()
	return nil
}

func (s *session) Rcpt(ctx context.Context, to string) error {
	a, err := smtp.ParseUnquotedAddress(to)
	if err != nil {
		return replyBadRcpt
	}
	if !s.utf8 && !a.IsASCII() {
		return replyNeedUTF8
	}
	canon := a.Canonical()
	at := strings.LastIndexByte(canon, '@')
	accts, err := store.Resolve(ctx, s.b.opts.Store, canon[:at], canon[at+1:], s.b.opts.SubaddressSeparator)
	switch {
	case errors.Is(err, store.ErrUnknownDomain) && strings.EqualFold(canon[at+1:], s.b.opts.Hostname):
		// Our own host name without being one of our domains (cron's
		// root@host through sendmail): the queue could only bounce it
		// (5.4.6, a loop), so refuse it now.
		return replyUserUnknown
	case errors.Is(err, store.ErrUnknownDomain):
		if err := s.checkSuppressed(ctx, a.String()); err != nil {
			return err
		}
		// Not ours: the outbound queue. The local part keeps its case,
		// which only the recipient's host may interpret.
		if !slices.Contains(s.remote, a.String()) {
			s.remote = append(s.remote, a.String())
		}
	case errors.Is(err, store.ErrNotFound):
		return replyUserUnknown
	case err != nil:
		s.b.log.Error("submission: resolving recipient", "conn", s.ci.ID, "rcpt", canon, "err", err)
		return smtp.ReplyTempError
	default:
		for _, acct := range accts {
			if !slices.ContainsFunc(s.targets, func(t store.Target) bool { return t.AccountID == acct.ID }) {
				s.targets = append(s.targets, store.Target{AccountID: acct.ID, Mailbox: store.Inbox})
			}
		}
		if !slices.Contains(s.localRcpts, a.String()) {
			s.localRcpts = append(s.localRcpts, a.String())
		}
	}
	s.rcpts = append(s.rcpts, a.String())
	return nil
}

func (s *session) Data(ctx context.Context, msg *smtpserver.Message) error {
	if !s.authorised() {
		return replyAuthRequired
	}
	if len(s.targets) == 0 && len(s.remote) == 0 {
		return replyNoRecipients
	}
	now := s.b.now()
	fix, err := s.checkHeader(ctx, msg.Body(), now)
	if err != nil {
		return err
	}
	hop := received.Hop{Helo: msg.Helo, With: received.With(s.utf8, s.ci.TLS != nil, !s.b.opts.Local), ID: msg.TxID}
	if len(s.rcpts) == 1 {
		hop.For = s.rcpts[0]
	}
	err = s.b.Send(ctx, &Outgoing{
		From:          s.from,
		Targets:       s.targets,
		Remote:        s.remote,
		Body:          msg.Body(),
		WithTrace:     msg.WithTrace,
		Conn:          &s.rc,
		Hop:           hop,
		Header:        Header{Fix: fix, SignDomain: s.signDomain},
		AccountID:     s.accountID(),
		UTF8:          s.utf8,
		RequireTLS:    s.requireTLS,
		TrackingID:    s.tracking,
		Domain:        s.domain,
		Submitter:     s.submitter,
		DeliverEvents: s.deliveredEvents(),
	}, now)
	switch {
	case errors.Is(err, ErrSign):
		s.b.log.Error("submission: DKIM signing", "conn", s.ci.ID, "id", msg.TxID, "domain", s.signDomain, "err", err)
		return smtp.ReplyTempError
	case errors.Is(err, store.ErrOverQuota):
		s.b.log.Info("submission: over quota", "conn", s.ci.ID, "id", msg.TxID, "err", err)
		return smtp.ReplyMailboxFull
	case err != nil:
		s.b.log.Error("submission: storing", "conn", s.ci.ID, "id", msg.TxID, "err", err)
		return smtp.ReplyTempError
	}
	return nil
}

// authorised reports whether the client may send: logged in, or local.
func (s *session) authorised() bool { return s.acct != nil || s.b.opts.Local }

// user names the client in logs.
func (s *session) user() string {
	if s.acct != nil {
		return s.acct.Address
	}
	return s.local
}

// accountID is the submitting account, 0 for a local user.
func (s *session) accountID() int64 {
	if s.acct != nil {
		return s.acct.ID
	}
	return 0
}

func (s *session) Reset() { s.reset() }

func (s *session) Close() {}

func (s *session) reset() {
	s.from, s.utf8, s.requireTLS = "", false, false
	s.rcpts = s.rcpts[:0]
	s.targets = s.targets[:0]
	s.remote = s.remote[:0]
	s.localRcpts = s.localRcpts[:0]
	s.tracking, s.domain, s.submitter = "", "", ""
}
