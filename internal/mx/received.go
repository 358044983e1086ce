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
func (s *session) appendTrace(b []byte, msg *smtpserver.Message, now time.Time) []byte {
	b = received.AppendReturnPath(b, s.from)
	hop := received.Hop{Helo: msg.Helo, With: received.With(s.utf8, s.ci.TLS != nil, false), ID: msg.TxID}
	if len(s.rcpts) == 1 {
		hop.For = s.rcpts[0]
	}
	return s.rc.AppendReceived(b, hop, now)
}
