// Package mx is the inbound policy of the MX role (port 25): it accepts
// mail for the domains and accounts in the store and nothing else.
//
// It plugs into smtpserver as its Backend. Per transaction:
//
//   - MAIL FROM (RFC 5321 §4.1.1.2): the reverse-path must parse; the null
//     sender <> is accepted (bounces, RFC 5321 §4.5.5). A non-ASCII address
//     needs the SMTPUTF8 parameter (RFC 6531 §3.4): 553 5.6.7 otherwise.
//   - RCPT TO (RFC 5321 §4.1.1.3): the address is canonicalised and
//     resolved with store.Resolve (account, alias, subaddress, catch-all).
//     A domain that is not ours gets 554 5.7.1: the MX role never relays.
//     An unknown user gets 550 5.1.1; a store failure 451 4.3.0. An account
//     reached by several recipients gets one copy.
//   - DATA/BDAT: the engine has read the message and refused bare CR/LF.
//     mx prepends Return-Path (RFC 5321 §4.4, §4.1.1.2) and a Received
//     trace header (RFC 5321 §4.4; "with" keywords from RFC 3848 and
//     RFC 6531 §3.7.3; written by package received) and stores the message with a single store.Deliver
//     into each account's INBOX. Only after Deliver has returned (the
//     message is durable) does the client get its 250 (RFC 5321 §6.1).
//
// With Options.Checks set (checks.go), every message is also verified:
//
//   - the client, in the background from its greeting on (MAIL waits for
//     the result): forward-confirmed reverse DNS (package iprev; the name
//     goes into Received) and DNS blocklists (package dnsbl; listed → 554
//     5.7.1 at MAIL, or an X-Posthorn-DNSBL field); clients in
//     TrustedNetworks skip every check;
//   - at RCPT, optional greylisting (package greylist, 451 4.7.1);
//   - at the end of DATA, concurrently: SPF for MAIL FROM and HELO (package
//     spf), DKIM (package dkim), ARC (package arc) and the DMARC policy of
//     the From domain; then the DMARC verdict (package dmarc). A message
//     with several From fields, or more than five From domains, is
//     refused (550 5.7.1): the sender would choose whose policy applies.
//     DMARC fail with p=reject → 550 5.7.1 and nothing stored; quarantine
//     (or reject for a domain in QuarantineInsteadOfReject) → the
//     accounts' Junk mailbox; TrustedForwarders and chains sealed by
//     TrustedSealers are exempt. A DMARC temperror is accepted (see package
//     dmarc).
//   - Authentication-Results (package authres) with our hostname as
//     authserv-id goes between Return-Path and Received; fields in the
//     message claiming our authserv-id are removed first (RFC 8601 §5).
//
// All lookups of one message share a deadline (Checks.Timeout); whatever
// DNS does not answer in time is temperror, never a lost message.
//
// The stored bytes are exactly the trace headers (and our
// Authentication-Results) followed by the message as received (minus
// forged Authentication-Results fields). The body handed to Deliver lives in the engine's
// pooled buffer: a store must not keep a reference to Delivery.Body after
// Deliver returns (store/sqlite copies it inside its commit).
package mx

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/posthorn/posthorn/internal/received"
	"github.com/posthorn/posthorn/internal/smtp"
	"github.com/posthorn/posthorn/internal/smtpserver"
	"github.com/posthorn/posthorn/internal/store"
)

// Options configure the MX policy.
type Options struct {
	// Store holds the domains, accounts and mailboxes.
	Store store.Store
	// Hostname is our name in the Received header.
	Hostname string
	// SubaddressSeparator is the tag separator ("+" in user+tag@); "" turns
	// subaddressing off.
	SubaddressSeparator string
	// Logger receives store failures. Nil discards.
	Logger *slog.Logger
	// Now is the clock for the Received header's date. Nil means time.Now.
	Now func() time.Time
	// Checks configure SPF, DKIM, DMARC, iprev and DNSBL checks (checks.go);
	// nil turns them off.
	Checks *Checks
	// Routes finds inbound routes (routes.go); nil means none.
	Routes RouteMatcher
}

// Backend is the MX policy; it implements smtpserver.Backend.
type Backend struct {
	opts Options
	log  *slog.Logger
	now  func() time.Time
}

var _ smtpserver.Backend = (*Backend)(nil)

// New returns the MX policy.
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
	s := &session{b: b, ci: ci, rc: received.Conn{By: b.opts.Hostname, IP: clientIP(ci.RemoteAddr), TLS: ci.TLS}}
	s.startClientChecks()
	return s
}

// Replies of the MX policy.
var (
	replyBadSender    = &smtp.Reply{Code: 501, Enhanced: smtp.EnhancedCode{5, 1, 7}, Text: "Bad sender address syntax"}
	replyBadRcpt      = &smtp.Reply{Code: 501, Enhanced: smtp.EnhancedCode{5, 1, 3}, Text: "Bad recipient address syntax"}
	replyNeedUTF8     = &smtp.Reply{Code: 553, Enhanced: smtp.EnhancedCode{5, 6, 7}, Text: "Non-ASCII address requires SMTPUTF8"}
	replyRelayDenied  = &smtp.Reply{Code: 554, Enhanced: smtp.EnhancedCode{5, 7, 1}, Text: "Relay access denied"}
	replyUserUnknown  = &smtp.Reply{Code: 550, Enhanced: smtp.EnhancedCode{5, 1, 1}, Text: "User unknown"}
	replyNoRecipients = &smtp.Reply{Code: 503, Enhanced: smtp.EnhancedCode{5, 5, 1}, Text: "No valid recipients"}
)

type session struct {
	b  *Backend
	ci smtpserver.ConnInfo
	rc received.Conn // Received fields of this connection

	// The current transaction.
	txID    string
	from    string // reverse-path mailbox, "" for <>
	utf8    bool
	size    int64    // the SIZE parameter, 0 when not given
	rcpts   []string // accepted recipients, as written
	targets []store.Target
	routed  []routedRcpt // recipients with an inbound route (routes.go)

	trace []byte // scratch for the trace headers, reused

	cc connChecks // client checks (checks.go)
}

func (s *session) Mail(ctx context.Context, from string, opts smtpserver.MailOptions) error {
	s.reset()
	s.txID, s.utf8, s.size = opts.TxID, opts.UTF8, opts.Size
	if err := s.mailChecks(ctx); err != nil {
		return err
	}
	if from == "" {
		s.from = ""
		return nil
	}
	a, err := smtp.ParseUnquotedAddress(from)
	if err != nil {
		return replyBadSender
	}
	if !opts.UTF8 && !a.IsASCII() {
		return replyNeedUTF8
	}
	s.from = a.String()
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
	ep, routed, err := s.matchRoute(ctx, canon)
	if err != nil {
		s.b.log.Error("mx: matching routes", "conn", s.ci.ID, "id", s.txID, "rcpt", canon, "err", err)
		return smtp.ReplyTempError
	}
	at := strings.LastIndexByte(canon, '@')
	accts, err := store.Resolve(ctx, s.b.opts.Store, canon[:at], canon[at+1:], s.b.opts.SubaddressSeparator)
	if routed && routeOnly(ep, err) {
		return s.acceptRouted(ctx, canon, a.String(), ep)
	}
	switch {
	case errors.Is(err, store.ErrUnknownDomain):
		return replyRelayDenied
	case errors.Is(err, store.ErrNotFound):
		return replyUserUnknown
	case err != nil:
		s.b.log.Error("mx: resolving recipient", "conn", s.ci.ID, "id", s.txID, "rcpt", canon, "err", err)
		return smtp.ReplyTempError
	}
	for _, acct := range accts {
		// A full account refuses for now (RFC 1870 §6.1: also when the
		// declared SIZE would not fit).
		full, err := store.OverQuota(ctx, s.b.opts.Store, acct, s.size)
		if err != nil {
			s.b.log.Error("mx: quota", "conn", s.ci.ID, "id", s.txID, "rcpt", canon, "err", err)
			return smtp.ReplyTempError
		}
		if full {
			return smtp.ReplyMailboxFull
		}
	}
	if s.greylisted(ctx, canon) {
		return replyGreylisted
	}
	for _, acct := range accts {
		if !s.hasTarget(acct.ID) {
			s.targets = append(s.targets, store.Target{AccountID: acct.ID, Mailbox: store.Inbox})
		}
	}
	if routed { // a route with Keep: stored and posted
		s.addRouted(canon, ep)
	}
	s.rcpts = append(s.rcpts, a.String())
	return nil
}

func (s *session) hasTarget(id int64) bool {
	for _, t := range s.targets {
		if t.AccountID == id {
			return true
		}
	}
	return false
}

func (s *session) Data(ctx context.Context, msg *smtpserver.Message) error {
	if len(s.targets) == 0 && len(s.routed) == 0 {
		return replyNoRecipients
	}
	now := s.b.now()
	body, authResults, targets, err := s.applyChecks(ctx, msg)
	if err != nil {
		return err
	}
	s.trace = s.appendTrace(s.trace[:0], msg, now, authResults)
	full := msg.WithTrace(s.trace)
	if body != nil { // the checks removed header fields: a copy
		full = append(append(make([]byte, 0, len(s.trace)+len(body)), s.trace...), body...)
	}
	events, err := s.routeEvents(msg, full, now)
	if err != nil {
		s.b.log.Error("mx: route payload", "conn", s.ci.ID, "id", msg.TxID, "err", err)
		return smtp.ReplyTempError
	}
	events = append(events, s.inboundEvents(ctx, full, now)...)
	if len(targets) == 0 { // routed recipients only
		_, err = s.b.opts.Store.RecordEvents(ctx, events)
	} else {
		_, err = s.b.opts.Store.Deliver(ctx, store.Delivery{
			Body:         full,
			InternalDate: now,
			Targets:      targets,
			Events:       events,
		})
	}
	if errors.Is(err, store.ErrOverQuota) {
		s.b.log.Info("mx: over quota", "conn", s.ci.ID, "id", msg.TxID, "err", err)
		return smtp.ReplyMailboxFull
	}
	if err != nil {
		s.b.log.Error("mx: delivering", "conn", s.ci.ID, "id", msg.TxID, "err", err)
		return smtp.ReplyTempError
	}
	return nil
}

func (s *session) Reset() { s.reset() }

func (s *session) Close() { s.stopClientChecks() }

func (s *session) reset() {
	s.txID, s.from, s.utf8, s.size = "", "", false, 0
	s.rcpts = s.rcpts[:0]
	s.targets = s.targets[:0]
	s.routed = s.routed[:0]
}

func clientIP(a net.Addr) net.IP {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP
	}
	return nil
}
