package dkim

import (
	"bufio"
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	msgauth "github.com/emersion/go-msgauth/dkim"
)

// defaultHeaders are the header fields signed when present: those RFC 6376
// §5.4.1 recommends, plus the MIME fields, Message-ID, Sender and
// List-Unsubscribe-Post (RFC 8058 §4 requires it signed). Trace fields
// (Received, Return-Path) are left out, as §5.4.1 advises.
var defaultHeaders = []string{
	"From", "Sender", "Reply-To", "Subject", "Date", "Message-ID", "To", "Cc",
	"MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Content-Disposition",
	"Resent-Date", "Resent-From", "Resent-Sender", "Resent-To", "Resent-Cc", "Resent-Message-ID",
	"In-Reply-To", "References",
	"List-Id", "List-Help", "List-Unsubscribe", "List-Unsubscribe-Post", "List-Subscribe",
	"List-Post", "List-Owner", "List-Archive",
}

// defaultOversign are the fields signed once more than they occur (RFC 6376
// §5.4.2), so that adding one (a second From:, a Cc: where there was none)
// breaks the signature.
var defaultOversign = []string{
	"From", "Sender", "Reply-To", "Subject", "Date", "Message-ID", "To", "Cc",
	"MIME-Version", "Content-Type", "Content-Transfer-Encoding", "In-Reply-To", "References",
}

// DefaultHeaders returns the header fields signed by default, when present.
func DefaultHeaders() []string { return append([]string(nil), defaultHeaders...) }

// DefaultOversign returns the header fields oversigned by default.
func DefaultOversign() []string { return append([]string(nil), defaultOversign...) }

// Key is one signing key of a domain.
type Key struct {
	Domain   string        // the d= domain
	Selector string        // the s= selector
	Signer   crypto.Signer // *rsa.PrivateKey or ed25519.PrivateKey
}

// SignOptions tune a Signer. The zero value is the recommended setting.
type SignOptions struct {
	// Headers lists the header fields to sign where present; nil means
	// DefaultHeaders. It must contain From.
	Headers []string
	// Oversign lists fields (also in Headers) signed once more than they
	// occur; nil means DefaultOversign, empty means none. From is always
	// oversigned.
	Oversign []string
	// Expiration, when positive, sets x= that far after signing. Default
	// none: a signature should keep verifying while the message is stored.
	Expiration time.Duration
}

// Signer signs messages with every key of the sender's domain, e.g. an
// RSA-2048 and an Ed25519 key side by side (RFC 8463 §4: sign with both
// while verifiers without Ed25519 exist). Canonicalization is
// relaxed/relaxed. A Signer is safe for concurrent use.
type Signer struct {
	keys       map[string][]Key // by lower-case domain
	headers    []string
	oversign   map[string]bool // lower-case names
	expiration time.Duration
}

// ErrNoKey is returned by Sign for a domain without keys.
var ErrNoKey = errors.New("dkim: no signing key for domain")

// NewSigner checks keys and returns a Signer for them.
func NewSigner(keys []Key, opts SignOptions) (*Signer, error) {
	s := &Signer{
		keys:       make(map[string][]Key),
		headers:    opts.Headers,
		oversign:   map[string]bool{"from": true},
		expiration: opts.Expiration,
	}
	if s.headers == nil {
		s.headers = defaultHeaders
	}
	hasFrom := false
	for _, h := range s.headers {
		if !validFieldName(h) {
			return nil, fmt.Errorf("dkim: bad header field name %q", h)
		}
		hasFrom = hasFrom || strings.EqualFold(h, "From")
	}
	if !hasFrom {
		return nil, errors.New("dkim: From must be signed (RFC 6376 §5.4)")
	}
	oversign := opts.Oversign
	if oversign == nil {
		oversign = defaultOversign
	}
	for _, h := range oversign {
		s.oversign[strings.ToLower(h)] = true
	}
	for _, k := range keys {
		if !isDomain(strings.TrimSuffix(k.Domain, ".")) {
			return nil, fmt.Errorf("dkim: bad domain %q", k.Domain)
		}
		if !isDomain(k.Selector) {
			return nil, fmt.Errorf("dkim: bad selector %q", k.Selector)
		}
		if k.Signer == nil {
			return nil, fmt.Errorf("dkim: no key for %s selector %s", k.Domain, k.Selector)
		}
		if err := checkKey(k.Signer.Public()); err != nil {
			return nil, fmt.Errorf("%v (%s selector %s)", err, k.Domain, k.Selector)
		}
		d := strings.ToLower(strings.TrimSuffix(k.Domain, "."))
		k.Domain = d
		s.keys[d] = append(s.keys[d], k)
	}
	return s, nil
}

// Sign reads msg (header, blank line, body; CRLF line ends) and returns the
// DKIM-Signature header fields, one per key of domain, each ending in CRLF,
// to prepend to the message unchanged. It returns ErrNoKey when domain has
// no keys.
func (s *Signer) Sign(domain string, msg io.Reader) (string, error) {
	keys := s.keys[strings.ToLower(strings.TrimSuffix(domain, "."))]
	if len(keys) == 0 {
		return "", fmt.Errorf("%w %s", ErrNoKey, domain)
	}
	br := bufio.NewReader(msg)
	header, fields, err := readHeader(br)
	if err != nil {
		return "", err
	}
	headerKeys := s.headerKeys(fields)
	var expires time.Time
	if s.expiration > 0 {
		expires = time.Now().Add(s.expiration)
	}
	signers := make([]*msgauth.Signer, len(keys))
	writers := make([]io.Writer, len(keys))
	for i, k := range keys {
		signer, err := msgauth.NewSigner(&msgauth.SignOptions{
			Domain:                 k.Domain,
			Selector:               k.Selector,
			Signer:                 k.Signer,
			Hash:                   crypto.SHA256,
			HeaderCanonicalization: msgauth.CanonicalizationRelaxed,
			BodyCanonicalization:   msgauth.CanonicalizationRelaxed,
			HeaderKeys:             headerKeys,
			Expiration:             expires,
		})
		if err != nil {
			for _, sg := range signers[:i] {
				_ = sg.Close()
			}
			return "", fmt.Errorf("dkim: %s selector %s: %v", k.Domain, k.Selector, err)
		}
		signers[i], writers[i] = signer, signer
	}
	w := io.MultiWriter(writers...)
	_, err = io.Copy(w, io.MultiReader(bytes.NewReader(header), br))
	var out strings.Builder
	for i, sg := range signers {
		if cerr := sg.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("dkim: %s selector %s: %v", keys[i].Domain, keys[i].Selector, cerr)
		}
		if err == nil {
			out.WriteString(sg.Signature())
		}
	}
	if err != nil {
		return "", err
	}
	return out.String(), nil
}

// headerKeys builds h=: each configured field as often as it occurs, plus
// once more for oversigned fields.
func (s *Signer) headerKeys(fields []field) []string {
	count := make(map[string]int)
	for _, f := range fields {
		count[strings.ToLower(f.name)]++
	}
	var keys []string
	for _, h := range s.headers {
		n := count[strings.ToLower(h)]
		if s.oversign[strings.ToLower(h)] {
			n++
		}
		for range n {
			keys = append(keys, h)
		}
	}
	return keys
}

// validFieldName reports whether s is a header field name (RFC 5322 §3.6.8:
// printable US-ASCII except colon).
func validFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e || s[i] == ':' {
			return false
		}
	}
	return true
}
