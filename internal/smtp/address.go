// Package smtp holds SMTP wire types shared by the receiving, submission and
// delivery sides: mailbox addresses (RFC 5321 §4.1.2, RFC 6531 for UTF-8),
// replies with enhanced status codes (RFC 3463), and limits.
package smtp

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Address is a mailbox address local@domain as used in SMTP paths.
type Address struct {
	Local  string // the local part, unquoted
	Domain string // in Unicode form, lower case
}

// Errors from ParseAddress.
var (
	ErrEmptyAddress = errors.New("empty address")
	ErrBadAddress   = errors.New("bad address")
)

// Limits. RFC 5321 §4.5.3.1.1 sets 64 octets for a local part, but
// §4.5.3.1 asks for no limits where they can be avoided, and return paths
// rewritten by SRS, BATV or VERP (forwarders, mailing lists) often exceed
// 64; Postfix and Exim take them. So a local part may be as long as a
// whole path (§4.5.3.1.3, 256 octets with its brackets); domains keep
// DNS's 255.
const (
	MaxLocalPartLen = 254
	MaxDomainLen    = 255
)

// ParseAddress parses an address without angle brackets. It accepts a
// dot-atom or quoted-string local part (UTF-8 allowed, RFC 6531) and a domain
// name (U-labels or A-labels, normalised to lower-case Unicode). Address
// literals ([1.2.3.4]) are refused: posthorn serves named domains only.
func ParseAddress(s string) (Address, error) {
	if s == "" {
		return Address{}, ErrEmptyAddress
	}
	if !utf8.ValidString(s) {
		return Address{}, fmt.Errorf("%w: not valid UTF-8", ErrBadAddress)
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return Address{}, fmt.Errorf("%w: %q has no @domain", ErrBadAddress, s)
	}
	local, err := parseLocal(s[:at])
	if err != nil {
		return Address{}, err
	}
	domain, err := ParseDomain(s[at+1:])
	if err != nil {
		return Address{}, err
	}
	return Address{Local: local, Domain: domain}, nil
}

// ParseDomain checks a domain name and returns it in lower-case Unicode form.
func ParseDomain(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("%w: empty domain", ErrBadAddress)
	}
	if len(s) > MaxDomainLen {
		return "", fmt.Errorf("%w: domain longer than %d octets", ErrBadAddress, MaxDomainLen)
	}
	if strings.HasPrefix(s, "[") {
		return "", fmt.Errorf("%w: address literals are not accepted", ErrBadAddress)
	}
	s = strings.TrimSuffix(s, ".")
	ascii, err := idna.Lookup.ToASCII(strings.ToLower(s))
	if err != nil {
		return "", fmt.Errorf("%w: domain %q: %v", ErrBadAddress, s, err)
	}
	labels := strings.Split(ascii, ".")
	if len(labels) < 1 {
		return "", fmt.Errorf("%w: domain %q", ErrBadAddress, s)
	}
	for _, l := range labels {
		if !validLabel(l) {
			return "", fmt.Errorf("%w: domain %q has an invalid label %q", ErrBadAddress, s, l)
		}
	}
	uni, err := idna.Lookup.ToUnicode(ascii)
	if err != nil {
		return "", fmt.Errorf("%w: domain %q: %v", ErrBadAddress, s, err)
	}
	return uni, nil
}

func validLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func parseLocal(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("%w: empty local part", ErrBadAddress)
	}
	if s[0] == '"' {
		return parseQuotedLocal(s)
	}
	if len(s) > MaxLocalPartLen {
		return "", fmt.Errorf("%w: local part longer than %d octets", ErrBadAddress, MaxLocalPartLen)
	}
	if s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return "", fmt.Errorf("%w: misplaced dot in local part %q", ErrBadAddress, s)
	}
	for _, r := range s {
		if !isAtext(r) && r != '.' {
			return "", fmt.Errorf("%w: local part %q contains %q", ErrBadAddress, s, r)
		}
	}
	return s, nil
}

// parseQuotedLocal unquotes an RFC 5321 Quoted-string local part.
func parseQuotedLocal(s string) (string, error) {
	if len(s) < 2 || s[len(s)-1] != '"' {
		return "", fmt.Errorf("%w: unterminated quoted local part", ErrBadAddress)
	}
	var b strings.Builder
	inner := s[1 : len(s)-1]
	for i := 0; i < len(inner); i++ {
		c := inner[i]
		switch {
		case c == '\\':
			i++
			if i >= len(inner) || inner[i] < 32 || inner[i] > 126 {
				return "", fmt.Errorf("%w: bad quoted pair in local part", ErrBadAddress)
			}
			b.WriteByte(inner[i])
		case c == '"' || c < 32 || c == 127:
			return "", fmt.Errorf("%w: bad character in quoted local part", ErrBadAddress)
		default:
			b.WriteByte(c)
		}
	}
	if b.Len() == 0 || b.Len() > MaxLocalPartLen {
		return "", fmt.Errorf("%w: quoted local part is empty or too long", ErrBadAddress)
	}
	return b.String(), nil
}

// isAtext reports whether r may appear in an atom (RFC 5322 atext, extended
// to all non-ASCII characters by RFC 6531).
func isAtext(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	case r >= 0x80:
		return r != utf8.RuneError
	}
	return strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r)
}

// String returns the address in SMTP form, quoting the local part when needed.
func (a Address) String() string {
	if a.Local == "" && a.Domain == "" {
		return ""
	}
	return quoteLocal(a.Local) + "@" + a.Domain
}

// Canonical returns the form used as a key in the store: local part and
// domain in lower case. posthorn treats local parts case-insensitively, as
// nearly every mail system does.
func (a Address) Canonical() string {
	return quoteLocal(strings.ToLower(a.Local)) + "@" + a.Domain
}

// IsASCII reports whether the address can be sent without SMTPUTF8.
func (a Address) IsASCII() bool {
	return isASCII(a.Local) && isASCII(a.Domain)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func quoteLocal(l string) string {
	if l != "" && l[0] != '.' && l[len(l)-1] != '.' && !strings.Contains(l, "..") {
		ok := true
		for _, r := range l {
			if !isAtext(r) && r != '.' {
				ok = false
				break
			}
		}
		if ok {
			return l
		}
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(l); i++ {
		if l[i] == '"' || l[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(l[i])
	}
	b.WriteByte('"')
	return b.String()
}
