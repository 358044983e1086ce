// Package received writes the trace header fields an SMTP server prepends
// to a message it accepts (RFC 5321 §4.4): Return-Path at final delivery
// and a Received field per hop, whose "with" keyword names the protocol
// (RFC 3848: ESMTP, ESMTPS, ESMTPA, ESMTPSA; RFC 6531 §3.7.3: the UTF8SMTP
// variants). Both the MX and the submission policy use it.
//
// A Received field looks like
//
//	Received: from helo.example ([192.0.2.1])
//		by mx.example with ESMTPS id 0abc...
//		for <rcpt@example>
//		(using TLSv1.3 with cipher TLS_AES_128_GCM_SHA256);
//		Mon, 02 Jan 2006 15:04:05 +0000
//
// Every line stays far below 998 octets: a client's helo is cut to 255
// octets when it is a valid name and to 64 sanitised octets otherwise.
package received

import (
	"crypto/tls"
	"net"
	"strings"
	"time"

	"github.com/posthorn/posthorn/internal/smtp"
)

// AppendReturnPath appends "Return-Path: <from>" (RFC 5321 §4.4), from
// being the reverse-path ("" for the null sender).
func AppendReturnPath(b []byte, from string) []byte {
	b = append(b, "Return-Path: <"...)
	b = append(b, from...)
	return append(b, ">\r\n"...)
}

// Conn holds what one connection's Received fields share and caches the
// "from" clause per helo. Not safe for concurrent use; one per session.
type Conn struct {
	// By is our host name.
	By string
	// IP is the client's address.
	IP net.IP
	// Name is the client's forward-confirmed reverse DNS name (iprev
	// pass), "" when unknown; written as the TCP-info "name [ip]" of RFC
	// 5321 §4.4. Set it before the first AppendReceived.
	Name string
	// TLS is the connection's TLS state, nil in plain text.
	TLS *tls.ConnectionState
	// HideClient leaves the "from" clause out (client IP and helo), for
	// submission from users' devices whose addresses are private.
	HideClient bool
	// Local, when set, names the local user of a Unix socket connection
	// ("uid 33 www-data"); the "from" clause is then "from local (Local)"
	// instead of a helo and an IP address.
	Local string

	helo  string // helo the cached fromC was made for
	fromC string
}

// Hop is what differs between the Received fields of one connection.
type Hop struct {
	Helo string // the client's EHLO/HELO argument at MAIL
	With string // protocol keyword, see With
	ID   string // our transaction id
	// For names the recipient; "" leaves the clause out. Name one only
	// when there is exactly one, so no recipient learns of the others.
	For string
}

// AppendReceived appends a Received field for hop, dated now.
func (c *Conn) AppendReceived(b []byte, hop Hop, now time.Time) []byte {
	b = append(b, "Received: "...)
	if !c.HideClient {
		b = append(b, c.fromClause(hop.Helo)...)
		b = append(b, "\r\n\t"...)
	}
	b = append(b, "by "...)
	b = append(b, c.By...)
	b = append(b, " with "...)
	b = append(b, hop.With...)
	b = append(b, " id "...)
	b = append(b, hop.ID...)
	if hop.For != "" {
		b = append(b, "\r\n\tfor <"...)
		b = append(b, hop.For...)
		b = append(b, '>')
	}
	if cs := c.TLS; cs != nil {
		b = append(b, "\r\n\t(using "...)
		b = append(b, strings.Replace(tls.VersionName(cs.Version), " ", "v", 1)...)
		b = append(b, " with cipher "...)
		b = append(b, tls.CipherSuiteName(cs.CipherSuite)...)
		b = append(b, ')')
	}
	b = append(b, ";\r\n\t"...)
	b = now.AppendFormat(b, time.RFC1123Z)
	return append(b, "\r\n"...)
}

// With is the "with" keyword for a transaction: ESMTP plus "S" for TLS
// and "A" for an authenticated client (RFC 3848), or the UTF8SMTP forms
// when SMTPUTF8 was used (RFC 6531 §3.7.3).
func With(utf8, tls, authenticated bool) string {
	w := "ESMTP"
	if utf8 {
		w = "UTF8SMTP"
	}
	if tls {
		w += "S"
	}
	if authenticated {
		w += "A"
	}
	return w
}

// fromClause is "from helo ([ip])", or "from helo (name [ip])" with a
// confirmed reverse name, when the helo is a domain or address literal,
// else "from [ip] (helo=sanitised)".
func (c *Conn) fromClause(helo string) string {
	if c.fromC != "" && c.helo == helo {
		return c.fromC
	}
	if c.Local != "" {
		words := strings.Fields(c.Local)
		for i, w := range words {
			words[i] = sanitize(w)
		}
		c.fromC = "from local (" + strings.Join(words, " ") + ")"
		return c.fromC
	}
	lit := AddressLiteral(c.IP)
	var s string
	switch {
	case helo == "":
		s = "from " + lit
	case validHelo(helo) && c.Name != "":
		s = "from " + helo + " (" + c.Name + " " + lit + ")"
	case validHelo(helo):
		s = "from " + helo + " (" + lit + ")"
	default:
		s = "from " + lit + " (helo=" + sanitize(helo) + ")"
	}
	c.helo, c.fromC = helo, s
	return s
}

// AddressLiteral is "[192.0.2.1]" or "[IPv6:2001:db8::1]" (RFC 5321
// §4.1.3), "[unknown]" for nil.
func AddressLiteral(ip net.IP) string {
	if ip == nil {
		return "[unknown]"
	}
	if ip4 := ip.To4(); ip4 != nil {
		return "[" + ip4.String() + "]"
	}
	return "[IPv6:" + ip.String() + "]"
}

func validHelo(h string) bool {
	if len(h) > 255 {
		return false
	}
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		inner := strings.TrimPrefix(h[1:len(h)-1], "IPv6:")
		return net.ParseIP(inner) != nil
	}
	if _, err := smtp.ParseDomain(h); err != nil {
		return false
	}
	for i := 0; i < len(h); i++ { // keep the header ASCII-clean
		if h[i] >= 0x80 {
			return false
		}
	}
	return true
}

// sanitize keeps a client-chosen string safe inside a header comment.
func sanitize(h string) string {
	if len(h) > 64 {
		h = h[:64]
	}
	b := []byte(h)
	for i, c := range b {
		if c < 0x21 || c > 0x7e || c == '(' || c == ')' || c == '\\' || c == '"' {
			b[i] = '?'
		}
	}
	return string(b)
}
