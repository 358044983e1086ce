package imap

import (
	"errors"
	"unicode/utf16"
	"unicode/utf8"
)

// Modified UTF-7 (RFC 3501 §5.1.3) for mailbox names of IMAP4rev1 clients
// that did not ENABLE UTF8=ACCEPT: printable US-ASCII stands for itself,
// "&" is "&-", and everything else is UTF-16 in modified base64 (with ","
// for "/") between "&" and "-".

const b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,"

// errBadUTF7 is returned by DecodeMailbox for names that are not valid,
// canonical modified UTF-7.
var errBadUTF7 = errors.New("imap: invalid modified UTF-7 mailbox name")

func b64val(c byte) int {
	switch {
	case 'A' <= c && c <= 'Z':
		return int(c - 'A')
	case 'a' <= c && c <= 'z':
		return int(c-'a') + 26
	case '0' <= c && c <= '9':
		return int(c-'0') + 52
	case c == '+':
		return 62
	case c == ',':
		return 63
	}
	return -1
}

// EncodeMailbox encodes a UTF-8 mailbox name in modified UTF-7. Invalid
// UTF-8 is encoded as U+FFFD.
func EncodeMailbox(s string) string {
	var out []byte
	var units []uint16
	flush := func() {
		if units == nil {
			return
		}
		out = append(out, '&')
		var acc uint32
		bits := 0
		for _, u := range units {
			acc = acc<<16 | uint32(u)
			bits += 16
			for bits >= 6 {
				bits -= 6
				out = append(out, b64chars[(acc>>bits)&0x3f])
			}
		}
		if bits > 0 {
			out = append(out, b64chars[(acc<<(6-bits))&0x3f])
		}
		out = append(out, '-')
		units = nil
	}
	for _, r := range s {
		if 0x20 <= r && r <= 0x7e {
			flush()
			out = append(out, byte(r))
			if r == '&' {
				out = append(out, '-')
			}
			continue
		}
		if units == nil {
			units = make([]uint16, 0, 8)
		}
		units = utf16.AppendRune(units, r)
	}
	flush()
	return string(out)
}

// DecodeMailbox decodes a modified UTF-7 mailbox name to UTF-8. It is
// strict: it refuses 8-bit octets and controls, an unterminated or empty
// shift other than "&-", printable ASCII inside a shift (which must stand
// for itself), adjacent shifts (which must be one), non-zero padding bits,
// and unpaired surrogates. So EncodeMailbox(DecodeMailbox(s)) == s whenever
// decoding succeeds.
func DecodeMailbox(s string) (string, error) {
	out := make([]byte, 0, len(s))
	afterShift := false
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			return "", errBadUTF7
		}
		if c != '&' {
			out = append(out, c)
			i++
			afterShift = false
			continue
		}
		j := i + 1
		for j < len(s) && s[j] != '-' {
			j++
		}
		if j == len(s) {
			return "", errBadUTF7
		}
		if j == i+1 {
			out = append(out, '&')
			i = j + 1
			afterShift = false
			continue
		}
		if afterShift {
			return "", errBadUTF7
		}
		var err error
		out, err = decodeShift(out, s[i+1:j])
		if err != nil {
			return "", err
		}
		i = j + 1
		afterShift = true
	}
	return string(out), nil
}

func decodeShift(out []byte, enc string) ([]byte, error) {
	var acc uint32
	bits := 0
	units := make([]uint16, 0, len(enc)*6/16)
	for i := 0; i < len(enc); i++ {
		v := b64val(enc[i])
		if v < 0 {
			return nil, errBadUTF7
		}
		acc = acc<<6 | uint32(v)
		bits += 6
		if bits >= 16 {
			bits -= 16
			units = append(units, uint16(acc>>bits))
			acc &= 1<<bits - 1
		}
	}
	if bits >= 6 || acc != 0 || len(units) == 0 {
		return nil, errBadUTF7
	}
	for i := 0; i < len(units); i++ {
		u := units[i]
		var r rune
		switch {
		case utf16.IsSurrogate(rune(u)):
			if i+1 == len(units) {
				return nil, errBadUTF7
			}
			r = utf16.DecodeRune(rune(u), rune(units[i+1]))
			if r == utf8.RuneError {
				return nil, errBadUTF7
			}
			i++
		default:
			r = rune(u)
			if 0x20 <= r && r <= 0x7e {
				return nil, errBadUTF7
			}
		}
		out = utf8.AppendRune(out, r)
	}
	return out, nil
}
