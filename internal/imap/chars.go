package imap

import (
	"strconv"
	"unicode/utf8"
)

// Character classes of RFC 9051 §9.

// isAtomChar reports ATOM-CHAR: any CHAR except atom-specials
// ( "(" / ")" / "{" / SP / CTL / "%" / "*" / DQUOTE / "\" / "]" ).
func isAtomChar(c byte) bool {
	if c <= 0x20 || c >= 0x7f {
		return false
	}
	switch c {
	case '(', ')', '{', '%', '*', '"', '\\', ']':
		return false
	}
	return true
}

// isAStringChar reports ASTRING-CHAR = ATOM-CHAR / resp-specials.
func isAStringChar(c byte) bool { return isAtomChar(c) || c == ']' }

// isTagChar reports a tag character: ASTRING-CHAR except "+".
func isTagChar(c byte) bool { return isAStringChar(c) && c != '+' }

// isListChar reports list-char = ATOM-CHAR / list-wildcards / resp-specials.
func isListChar(c byte) bool { return isAStringChar(c) || c == '%' || c == '*' }

// isAtom reports whether s can be sent as an atom.
func isAtom(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAtomChar(s[i]) {
			return false
		}
	}
	return true
}

func isAString(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAStringChar(s[i]) {
			return false
		}
	}
	return true
}

// maxQuoted is the longest string sent quoted; longer ones go as literals,
// which are cheaper for clients to read.
const maxQuoted = 1024

// quotable reports whether s can be a quoted string: no NUL, CR or LF, and,
// unless utf8 is allowed (IMAP4rev2 / UTF8=ACCEPT, RFC 9051 §9 QUOTED-CHAR),
// only 7-bit characters.
func quotable(s string, utf8ok bool) bool {
	if len(s) > maxQuoted {
		return false
	}
	eight := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == 0 || c == '\r' || c == '\n':
			return false
		case c >= 0x80:
			eight = true
		}
	}
	if eight {
		return utf8ok && utf8.ValidString(s)
	}
	return true
}

// AppendQuoted appends s as a quoted string, escaping DQUOTE and "\". The
// caller makes sure s is quotable.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

func appendLiteral(b []byte, s string, nonSync bool) []byte {
	b = append(b, '{')
	b = strconv.AppendInt(b, int64(len(s)), 10)
	if nonSync {
		b = append(b, '+')
	}
	b = append(b, "}\r\n"...)
	return append(b, s...)
}

// AppendString appends s as an IMAP string (RFC 9051 §9 "string"): quoted
// when it can be, else a literal. Strings with 8-bit characters are sent as
// literals so that the result is valid for IMAP4rev1 clients too.
func AppendString(b []byte, s string) []byte {
	if quotable(s, false) {
		return appendQuoted(b, s)
	}
	return appendLiteral(b, s, false)
}

// AppendNString appends NIL when s is "" and the string otherwise: an
// nstring for values where an empty string means absent.
func AppendNString(b []byte, s string) []byte {
	if s == "" {
		return append(b, "NIL"...)
	}
	return AppendString(b, s)
}

// AppendAString appends s as an astring: an atom when it is one (and not the
// word NIL, which would read back as nil in nstring positions), else a
// string.
func AppendAString(b []byte, s string) []byte {
	if isAString(s) && !eqFold(s, "NIL") {
		return append(b, s...)
	}
	return AppendString(b, s)
}

// eqFold compares ASCII case-insensitively.
func eqFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if upper(a[i]) != upper(b[i]) {
			return false
		}
	}
	return true
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

func toUpper(s string) string {
	for i := 0; i < len(s); i++ {
		if 'a' <= s[i] && s[i] <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = upper(b[j])
			}
			return string(b)
		}
	}
	return s
}
