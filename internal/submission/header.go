package submission

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"net/mail"
	"net/textproto"
	"strings"
	"time"

	"github.com/posthorn/posthorn/internal/smtp"
	"github.com/posthorn/posthorn/internal/store"
)

// The message header: sender rights on From: and Sender:, and the RFC
// 6409 §8 fix-ups.

var (
	replyBadHeader = &smtp.Reply{Code: 550, Enhanced: smtp.EnhancedCode{5, 6, 0}, Text: "Malformed message header"}
	replyNoFrom    = &smtp.Reply{Code: 550, Enhanced: smtp.EnhancedCode{5, 6, 0}, Text: "Message has no From header"}
	replyBadFrom   = &smtp.Reply{Code: 550, Enhanced: smtp.EnhancedCode{5, 6, 0}, Text: "Cannot parse the From or Sender header"}
)

// Errors of ReadHeader.
var (
	ErrBadHeader = errors.New("malformed message header")
	ErrNoFrom    = errors.New("message has no From header")
	ErrBadFrom   = errors.New("cannot parse the From or Sender header")
)

// Header is what submission needs from a message's header section.
type Header struct {
	// Senders are the addresses of the From: and Sender: fields, From:
	// first; the client must own every one.
	Senders []smtp.Address
	// SignDomain is the DKIM signing domain: the first From: address's
	// domain (the one DMARC aligns with, RFC 7489 §3.1), or the envelope
	// sender's when From: is missing.
	SignDomain string
	// Fix are the header fields to add in front of the message: From:
	// (from the envelope, when missing), Date: (RFC 6409 §8.2) and
	// Message-ID: (§8.3) on hostname.
	Fix []byte
}

// ReadHeader reads the header section of body, submitted with envelope
// sender from ("" for <>), and returns its senders and the fix-ups. It
// fails with ErrBadHeader, ErrNoFrom (no From: and a null sender) or
// ErrBadFrom.
func ReadHeader(body []byte, from, hostname string, now time.Time) (Header, error) {
	h, err := readHeader(body)
	if err != nil {
		return Header{}, ErrBadHeader
	}
	var out Header
	froms := h.Values("From")
	if len(froms) == 0 {
		if from == "" {
			return Header{}, ErrNoFrom
		}
		out.Fix = append(out.Fix, "From: <"+from+">\r\n"...)
		out.SignDomain = domainOf(from)
	}
	for _, field := range append(froms, h.Values("Sender")...) {
		addrs, err := parseAddressList(field)
		if err != nil || len(addrs) == 0 {
			return Header{}, ErrBadFrom
		}
		if out.SignDomain == "" {
			out.SignDomain = domainOf(addrs[0].Canonical())
		}
		out.Senders = append(out.Senders, addrs...)
	}
	if len(h.Values("Date")) == 0 {
		out.Fix = append(out.Fix, "Date: "...)
		out.Fix = now.AppendFormat(out.Fix, time.RFC1123Z)
		out.Fix = append(out.Fix, "\r\n"...)
	}
	if len(h.Values("Message-Id")) == 0 {
		out.Fix = append(out.Fix, "Message-ID: <"+newMessageID()+"@"+hostname+">\r\n"...)
	}
	return out, nil
}

// checkHeader reads the header section of body (ReadHeader), checks that
// the client owns every From: and Sender: address, and returns the header
// fields to add in front of the message.
func (s *session) checkHeader(ctx context.Context, body []byte, now time.Time) ([]byte, error) {
	h, err := ReadHeader(body, s.from, s.b.opts.Hostname, now)
	switch {
	case errors.Is(err, ErrNoFrom):
		return nil, replyNoFrom
	case errors.Is(err, ErrBadFrom):
		return nil, replyBadFrom
	case err != nil:
		return nil, replyBadHeader
	}
	s.signDomain = h.SignDomain
	for _, a := range h.Senders {
		ok, err := s.owns(ctx, a)
		if err != nil {
			s.b.log.Error("submission: checking sender rights", "conn", s.ci.ID, "err", err)
			return nil, smtp.ReplyTempError
		}
		if !ok {
			s.b.log.Warn("submission: From header not owned", "conn", s.ci.ID, "user", s.user(), "from", a.String())
			if s.b.opts.Local {
				return nil, replyFromNotOurs
			}
			return nil, replyFromNotOwner
		}
	}
	return h.Fix, nil
}

// readHeader parses the header section (RFC 5322 §2.2) of a message.
func readHeader(body []byte) (textproto.MIMEHeader, error) {
	if bytes.HasPrefix(body, []byte("\r\n")) {
		return textproto.MIMEHeader{}, nil // no header fields at all
	}
	var section []byte
	if i := bytes.Index(body, []byte("\r\n\r\n")); i >= 0 {
		section = body[:i+4]
	} else {
		// A message that is all header: close the section.
		section = append(bytes.Clone(body), "\r\n"...)
	}
	return textproto.NewReader(bufio.NewReader(bytes.NewReader(section))).ReadMIMEHeader()
}

// domainOf returns the domain of a canonical address.
func domainOf(addr string) string { return addr[strings.LastIndexByte(addr, '@')+1:] }

// parseAddressList parses a From: or Sender: field body (RFC 5322 §3.6.2,
// RFC 6532 for UTF-8) into addresses.
func parseAddressList(field string) ([]smtp.Address, error) {
	list, err := (&mail.AddressParser{}).ParseList(field)
	if err != nil {
		return nil, err
	}
	out := make([]smtp.Address, 0, len(list))
	for _, m := range list {
		a, err := smtp.ParseUnquotedAddress(m.Address)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// owns reports whether the logged-in account may use a as sender (see
// the package doc, Sender rights).
func (s *session) owns(ctx context.Context, a smtp.Address) (bool, error) {
	canon := a.Canonical()
	at := strings.LastIndexByte(canon, '@')
	local, domain := canon[:at], canon[at+1:]
	if s.b.opts.Local {
		return s.ours(ctx, domain)
	}
	acct := s.acct
	if domain == acct.Domain && acct.MaySendAsDomain {
		return true, nil
	}
	candidates := []string{canon}
	if sep := s.b.opts.SubaddressSeparator; sep != "" {
		if i := strings.Index(local, sep); i > 0 {
			candidates = append(candidates, local[:i]+"@"+domain)
		}
	}
	for _, c := range candidates {
		if c == acct.Address {
			return true, nil
		}
		al, err := s.b.opts.Store.Alias(ctx, c)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return false, err
		}
		for _, t := range al.Targets {
			if t == acct.Address {
				return true, nil
			}
		}
	}
	return false, nil
}

// ours reports whether a local user may send from domain: one of our
// domains or our hostname, or any with LocalAnySender.
func (s *session) ours(ctx context.Context, domain string) (bool, error) {
	if s.b.opts.LocalAnySender || strings.EqualFold(domain, s.b.opts.Hostname) {
		return true, nil
	}
	return s.b.opts.Store.HasDomain(ctx, domain)
}

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// newMessageID returns the random left part of a Message-ID (128 bits).
func newMessageID() string {
	var b [16]byte
	rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}
