package mx

import (
	"crypto/tls"
	"net"
	"strings"
	"time"

	"github.com/posthorn/posthorn/internal/smtp"
	"github.com/posthorn/posthorn/internal/smtpserver"
)

// appendTrace appends the Return-Path and Received headers (RFC 5321 §4.4)
// for msg to b:
//
//	Return-Path: <sender>
//	Received: from helo.example ([192.0.2.1])
//		by mx.example with ESMTPS id 0abc...
//		for <rcpt@example>
//		(using TLSv1.3 with cipher TLS_AES_128_GCM_SHA256);
//		Mon, 02 Jan 2006 15:04:05 +0000
//
// "for" only names the recipient when there is exactly one, so that a
// message does not tell each recipient who else got it. Every line stays
// far below 998 octets: the helo is cut to 255.
func (s *session) appendTrace(b []byte, msg *smtpserver.Message, now time.Time) []byte {
	b = append(b, "Return-Path: <"...)
	b = append(b, s.from...)
	b = append(b, ">\r\nReceived: "...)
	b = append(b, s.fromClause(msg.Helo)...)
	b = append(b, "\r\n\tby "...)
	b = append(b, s.b.opts.Hostname...)
	b = append(b, " with "...)
	b = append(b, protocol(s.utf8, s.ci.TLS != nil)...)
	b = append(b, " id "...)
	b = append(b, msg.TxID...)
	if len(s.rcpts) == 1 {
		b = append(b, "\r\n\tfor <"...)
		b = append(b, s.rcpts[0]...)
		b = append(b, '>')
	}
	if cs := s.ci.TLS; cs != nil {
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

// protocol is the "with" keyword: RFC 3848 (ESMTP, ESMTPS) and RFC 6531
// §3.7.3 (UTF8SMTP, UTF8SMTPS).
func protocol(utf8, tls bool) string {
	switch {
	case utf8 && tls:
		return "UTF8SMTPS"
	case utf8:
		return "UTF8SMTP"
	case tls:
		return "ESMTPS"
	}
	return "ESMTP"
}

// fromClause is "from helo ([ip])" when the helo is a domain or address
// literal, else "from [ip] (helo=sanitised)". It is cached per helo.
func (s *session) fromClause(helo string) string {
	if s.fromC != "" && s.helo == helo {
		return s.fromC
	}
	lit := addressLiteral(s.ip)
	var c string
	switch {
	case helo == "":
		c = "from " + lit
	case validHelo(helo):
		c = "from " + helo + " (" + lit + ")"
	default:
		c = "from " + lit + " (helo=" + sanitize(helo) + ")"
	}
	s.helo, s.fromC = helo, c
	return c
}

// addressLiteral is "[192.0.2.1]" or "[IPv6:2001:db8::1]" (RFC 5321 §4.1.3).
func addressLiteral(ip net.IP) string {
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
