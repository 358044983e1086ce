package sendmail

import (
	"errors"
	"syscall"

	gosmtp "github.com/emersion/go-smtp"
)

// Exit statuses of sendmail(1) (sysexits.h), which callers such as cron
// and PHP's mail() look at: 75 means "try again later".
const (
	ExitOK          = 0
	ExitUsage       = 64 // EX_USAGE: bad command line, no recipients
	ExitDataErr     = 65 // EX_DATAERR: the message or its addresses are malformed
	ExitNoUser      = 67 // EX_NOUSER: a recipient does not exist
	ExitUnavailable = 69 // EX_UNAVAILABLE: refused for another permanent reason
	ExitSoftware    = 70 // EX_SOFTWARE: an internal error
	ExitIOErr       = 74 // EX_IOERR: reading standard input failed
	ExitTempFail    = 75 // EX_TEMPFAIL: the server is not running, or said 4xx
	ExitProtocol    = 76 // EX_PROTOCOL: the server's answer made no sense
	ExitNoPerm      = 77 // EX_NOPERM: not allowed (sender policy, socket permissions)
)

// exitFor maps an error from the server conversation to an exit status.
func exitFor(err error) int {
	var se *gosmtp.SMTPError
	if errors.As(err, &se) {
		return exitForReply(se.Code, se.EnhancedCode)
	}
	if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) {
		return ExitNoPerm
	}
	// No socket, nobody listening, a dropped connection: try later.
	return ExitTempFail
}

// exitForReply maps an SMTP reply (RFC 5321 §4.2, RFC 3463 codes).
func exitForReply(code int, enh gosmtp.EnhancedCode) int {
	switch {
	case code >= 400 && code < 500:
		return ExitTempFail
	case code < 500 || code > 599:
		return ExitProtocol
	case enh[1] == 1 && (enh[2] == 1 || enh[2] == 2): // 5.1.1 no such user, 5.1.2 bad domain
		return ExitNoUser
	case enh[1] == 1 || enh[1] == 6 || code == 552 || enh == gosmtp.EnhancedCode{5, 3, 4}:
		return ExitDataErr // address syntax, content, size
	case enh[1] == 7:
		return ExitNoPerm // 5.7.x: policy
	}
	return ExitUnavailable
}
