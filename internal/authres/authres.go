// Package authres writes the Authentication-Results header field (RFC 8601)
// with which a receiving server records its SPF, DKIM, DMARC, ARC and iprev
// verdicts for mail readers and filters, and removes fields that claim to
// come from us but were in the message already (§5: a receiver must remove
// or rename them, or anyone could forge our verdicts).
//
// Values and parameters are written by go-msgauth's authres package, which
// quotes them as the grammar requires; this package folds one result per
// line.
package authres

import (
	"bytes"
	"strings"

	msgauthres "github.com/emersion/go-msgauth/authres"
)

// maxResultLine bounds one folded line of the field, well under the 998
// octets of RFC 5322 §2.1.1.
const maxResultLine = 900

// Result is one method's result (go-msgauth's types: *SPFResult,
// *DKIMResult, *DMARCResult, *IPRevResult, *ARCResult, *GenericResult).
type Result = msgauthres.Result

// AppendField appends a complete "Authentication-Results:" field, CRLF
// included, naming authservID (our host name), with one result per folded
// line; no results is written "none" (RFC 8601 §2.2).
func AppendField(b []byte, authservID string, results []Result) []byte {
	b = append(b, "Authentication-Results: "...)
	b = append(b, authservID...)
	if len(results) == 0 {
		return append(b, "; none\r\n"...)
	}
	for _, r := range results {
		one := strings.TrimRight(msgauthres.Format(authservID, []Result{r})[len(authservID)+2:], " ")
		if len(one) > maxResultLine {
			// A client-chosen value (a HELO name, say) would make the line
			// too long (RFC 5322 §2.1.1: 998 octets): keep "method=result".
			one, _, _ = strings.Cut(one, " ")
		}
		b = append(b, ";\r\n\t"...)
		b = append(b, one...)
	}
	return append(b, "\r\n"...)
}

// RemoveOurs returns msg without the Authentication-Results fields in its
// header whose authserv-id is authservID (compared without case, RFC 8601
// §2.5), and whether there were any. Without any, msg itself is returned;
// otherwise a copy.
func RemoveOurs(msg []byte, authservID string) ([]byte, bool) {
	var out []byte
	pos := 0 // start of the current field
	for pos < len(msg) {
		end := fieldEnd(msg, pos)
		if end == pos { // the blank line: end of the header
			break
		}
		if claimsID(msg[pos:end], authservID) {
			if out == nil {
				out = make([]byte, 0, len(msg))
				out = append(out, msg[:pos]...)
			}
		} else if out != nil {
			out = append(out, msg[pos:end]...)
		}
		pos = end
	}
	if out == nil {
		return msg, false
	}
	return append(out, msg[pos:]...), true
}

// fieldEnd returns the end of the header field starting at pos (after its
// last CRLF, continuation lines included); pos itself at the blank line
// that ends the header.
func fieldEnd(msg []byte, pos int) int {
	if bytes.HasPrefix(msg[pos:], []byte("\r\n")) || bytes.HasPrefix(msg[pos:], []byte("\n")) {
		return pos
	}
	i := pos
	for {
		nl := bytes.IndexByte(msg[i:], '\n')
		if nl < 0 {
			return len(msg)
		}
		i += nl + 1
		if i >= len(msg) || (msg[i] != ' ' && msg[i] != '\t') {
			return i
		}
	}
}

// claimsID reports whether field is an Authentication-Results field with
// authserv-id id.
func claimsID(field []byte, id string) bool {
	const name = "authentication-results"
	colon := bytes.IndexByte(field, ':')
	if colon < 0 || !strings.EqualFold(strings.TrimRight(string(field[:colon]), " \t"), name) {
		return false
	}
	v := skipCFWS(string(field[colon+1:]))
	if len(v) < len(id) || !strings.EqualFold(v[:len(id)], id) {
		return false
	}
	rest := v[len(id):]
	return rest == "" || strings.ContainsRune(" \t\r\n;(", rune(rest[0]))
}

// skipCFWS skips white space, line folds and (nested) comments.
func skipCFWS(s string) string {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case c == '\\' && depth > 0:
			i++
		case depth > 0, c == ' ', c == '\t', c == '\r', c == '\n':
		default:
			return s[i:]
		}
	}
	return ""
}
