package smtp

import (
	"strconv"
	"strings"
)

// EnhancedCode is an RFC 3463 enhanced status code class.subject.detail,
// e.g. {5, 1, 1}.
type EnhancedCode [3]int

// String formats the code as "5.1.1".
func (e EnhancedCode) String() string {
	return strconv.Itoa(e[0]) + "." + strconv.Itoa(e[1]) + "." + strconv.Itoa(e[2])
}

// Reply is an SMTP reply (RFC 5321 §4.2) with an enhanced status code
// (RFC 2034, RFC 3463). It doubles as the error type protocol handlers
// return: the text is sent to the client verbatim, so it must be safe to
// show (no configuration details, no Go error text) and must not contain
// CR or LF.
type Reply struct {
	Code     int          // three-digit reply code, e.g. 550
	Enhanced EnhancedCode // e.g. {5, 1, 1}
	Text     string       // human-readable, client-safe
}

// NewReply returns a Reply; it is a shorthand for composite literals.
func NewReply(code int, enhanced EnhancedCode, text string) *Reply {
	return &Reply{Code: code, Enhanced: enhanced, Text: text}
}

// Error implements error; it returns the reply as it goes on the wire,
// without CRLF.
func (r *Reply) Error() string { return r.String() }

// String returns "550 5.1.1 User unknown".
func (r *Reply) String() string {
	var b strings.Builder
	b.Grow(len(r.Text) + 16)
	b.WriteString(strconv.Itoa(r.Code))
	b.WriteByte(' ')
	if r.Enhanced != (EnhancedCode{}) {
		b.WriteString(r.Enhanced.String())
		b.WriteByte(' ')
	}
	b.WriteString(r.Text)
	return b.String()
}

// Temporary reports whether the reply is a transient failure (4xx): the
// client should try again later (RFC 5321 §4.2.1).
func (r *Reply) Temporary() bool { return r.Code/100 == 4 }

// Permanent reports whether the reply is a permanent failure (5xx).
func (r *Reply) Permanent() bool { return r.Code/100 == 5 }

// Replies shared by the receiving policies. Treat them as constants.
var (
	// ReplyTempError is what a client sees for an internal failure whose
	// details stay in the log (RFC 3463 4.3.0, other mail system status).
	ReplyTempError = &Reply{451, EnhancedCode{4, 3, 0}, "Temporary server error, try again later"}
	// ReplyShuttingDown is sent when the server stops accepting mail
	// (RFC 3463 4.3.2, system not accepting network messages).
	ReplyShuttingDown = &Reply{421, EnhancedCode{4, 3, 2}, "Service shutting down, try again later"}
	// ReplyTooManyErrors ends a session that made too many failed commands.
	ReplyTooManyErrors = &Reply{421, EnhancedCode{4, 7, 0}, "Too many errors"}
	// ReplyBareNewline rejects message data with a bare CR or LF
	// (RFC 5321 §2.3.8, §4.1.1.4).
	ReplyBareNewline = &Reply{550, EnhancedCode{5, 6, 0}, "Message contains bare CR or LF, use CRLF line endings"}
	// ReplyMessageTooBig rejects a message over the size limit (RFC 1870).
	ReplyMessageTooBig = &Reply{552, EnhancedCode{5, 3, 4}, "Message too big"}
	// ReplyLineTooLong rejects message data with an overlong text line
	// (RFC 5321 §4.5.3.1.6).
	ReplyLineTooLong = &Reply{500, EnhancedCode{5, 5, 2}, "Line too long"}
	// ReplyMailboxFull refuses a recipient, or a message, that would take
	// an account beyond its storage quota (RFC 3463 4.2.2; temporary, as
	// RFC 5321 §4.5.3.1.10 suggests for a full mailbox).
	ReplyMailboxFull = &Reply{452, EnhancedCode{4, 2, 2}, "Mailbox full"}
	// ReplyTimeout ends a session whose client stalled (RFC 5321 §4.5.3.2).
	ReplyTimeout = &Reply{421, EnhancedCode{4, 4, 2}, "Timeout, closing connection"}
)
