package smtp

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// ParseUnquotedAddress parses a mailbox whose local part has already been
// unquoted, as SMTP engines hand over a path's Mailbox (RFC 5321 §4.1.2):
// `"john doe"@example.com` arrives as `john doe@example.com`. The domain
// is the part after the last "@". A local part that is not a dot-string is
// accepted when it could have been sent as a Quoted-string: printable ASCII
// or UTF-8, no control characters, at most MaxLocalPartLen octets.
func ParseUnquotedAddress(s string) (Address, error) {
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
	local := s[:at]
	if _, err := parseLocal(local); err != nil {
		if local == "" || len(local) > MaxLocalPartLen {
			return Address{}, err
		}
		for i := 0; i < len(local); i++ {
			if c := local[i]; c < 32 || c == 127 {
				return Address{}, fmt.Errorf("%w: control character in local part", ErrBadAddress)
			}
		}
	}
	domain, err := ParseDomain(s[at+1:])
	if err != nil {
		return Address{}, err
	}
	return Address{Local: local, Domain: domain}, nil
}
