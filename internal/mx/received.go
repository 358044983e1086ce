package mx

import (
	"time"

	"github.com/posthorn/posthorn/internal/received"
	"github.com/posthorn/posthorn/internal/smtpserver"
)

// appendTrace appends the Return-Path and Received headers (RFC 5321 §4.4,
// written by package received) for msg to b. "for" only names the
// recipient when there is exactly one, so that a message does not tell
// each recipient who else got it.
//
// fields (Authentication-Results, possibly X-Posthorn-DNSBL) go between the
// two: Return-Path stays first, our verdicts above our Received field.
func (s *session) appendTrace(b []byte, msg *smtpserver.Message, now time.Time, fields []byte) []byte {
	b = received.AppendReturnPath(b, s.from)
	b = append(b, fields...)
	hop := received.Hop{Helo: msg.Helo, With: received.With(s.utf8, s.ci.TLS != nil, false), ID: msg.TxID}
	if len(s.rcpts) == 1 {
		hop.For = s.rcpts[0]
	}
	return s.rc.AppendReceived(b, hop, now)
}
