package queue

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/posthorn/posthorn/internal/smtp"
)

// A delivery status notification (RFC 3464, RFC 3462 multipart/report;
// RFC 6533 for internationalized addresses).

// dsnRecipient is one recipient reported on.
type dsnRecipient struct {
	Address   string
	Delayed   bool // Action: delayed (else failed)
	Reply     *smtp.Reply
	RemoteMTA string // host that answered, "" when none did
	Expired   bool   // failed because the give-up time passed
}

// dsn is what a notification says.
type dsn struct {
	ReportingMTA string // our host name
	Sender       string // the original envelope sender (the DSN's To)
	Arrival      time.Time
	Now          time.Time
	Recipients   []dsnRecipient
	Original     []byte // the original message (only its header is included)
	UTF8         bool   // the original needed SMTPUTF8
}

// status is the RFC 3463 code reported for r.
func (r dsnRecipient) status() smtp.EnhancedCode {
	if r.Expired {
		return smtp.EnhancedCode{4, 4, 7}
	}
	if r.Reply.Enhanced != (smtp.EnhancedCode{}) {
		return r.Reply.Enhanced
	}
	return smtp.EnhancedCode{r.Reply.Code / 100, 0, 0}
}

// build returns the notification message, CRLF line endings, and whether
// it needs SMTPUTF8.
func (d *dsn) build() ([]byte, bool) {
	global := d.UTF8 || !isASCII(d.Sender)
	for _, r := range d.Recipients {
		global = global || !isASCII(r.Address)
	}
	delayed := len(d.Recipients) > 0 && d.Recipients[0].Delayed
	boundary := randomHex(12) + "/" + d.ReportingMTA
	var b bytes.Buffer
	line := func(format string, args ...any) {
		fmt.Fprintf(&b, format, args...)
		b.WriteString("\r\n")
	}
	subject := "Undelivered Mail Returned to Sender"
	if delayed {
		subject = "Delayed Mail (still being retried)"
	}
	line("From: Mail Delivery System <MAILER-DAEMON@%s>", d.ReportingMTA)
	line("To: <%s>", d.Sender)
	line("Subject: %s", subject)
	line("Date: %s", d.Now.Format(time.RFC1123Z))
	line("Message-ID: <%s.dsn@%s>", randomHex(16), d.ReportingMTA)
	line("Auto-Submitted: auto-replied") // RFC 3834 §5
	line("MIME-Version: 1.0")
	line(`Content-Type: multipart/report; report-type=delivery-status;`)
	line(`	boundary="%s"`, boundary)
	line("")
	line("This is a MIME-encapsulated message.")
	line("")

	// Part 1: for people.
	line("--%s", boundary)
	line("Content-Type: text/plain; charset=utf-8")
	line("Content-Transfer-Encoding: 8bit")
	line("")
	line("This is the mail system at host %s.", d.ReportingMTA)
	line("")
	if delayed {
		line("Your message has not been delivered yet to the recipients below.")
		line("The mail system keeps trying; you need not send it again.")
	} else {
		line("Your message could not be delivered to the recipients below.")
		line("It will not be tried again.")
	}
	line("")
	for _, r := range d.Recipients {
		why := r.Reply.String()
		if r.Expired {
			why = "gave up after " + d.Now.Sub(d.Arrival).Round(time.Minute).String() + "; last error: " + why
		}
		if r.RemoteMTA != "" {
			line("<%s>: host %s said: %s", r.Address, r.RemoteMTA, why)
		} else {
			line("<%s>: %s", r.Address, why)
		}
	}
	line("")

	// Part 2: for programs (RFC 3464 §2).
	line("--%s", boundary)
	addrType := "rfc822"
	if global {
		line("Content-Type: message/global-delivery-status") // RFC 6533 §6.1
		addrType = "utf-8"
	} else {
		line("Content-Type: message/delivery-status")
	}
	line("")
	line("Reporting-MTA: dns; %s", d.ReportingMTA)
	line("Arrival-Date: %s", d.Arrival.Format(time.RFC1123Z))
	for _, r := range d.Recipients {
		line("")
		line("Final-Recipient: %s; %s", addrType, r.Address)
		if r.Delayed {
			line("Action: delayed")
		} else {
			line("Action: failed")
		}
		line("Status: %s", r.status())
		if r.RemoteMTA != "" {
			line("Remote-MTA: dns; %s", r.RemoteMTA)
		}
		line("Diagnostic-Code: smtp; %s", r.Reply.String())
		line("Last-Attempt-Date: %s", d.Now.Format(time.RFC1123Z))
	}
	line("")

	// Part 3: the original header (RFC 3462 text/rfc822-headers).
	line("--%s", boundary)
	if global {
		line("Content-Type: message/global-headers") // RFC 6533 §6.3
	} else {
		line("Content-Type: text/rfc822-headers")
	}
	line("")
	b.Write(header(d.Original))
	line("")
	line("--%s--", boundary)
	return b.Bytes(), global
}

// header returns the header section of msg, ending with CRLF.
func header(msg []byte) []byte {
	if i := bytes.Index(msg, []byte("\r\n\r\n")); i >= 0 {
		return msg[:i+2]
	}
	if len(msg) > 0 && !bytes.HasSuffix(msg, []byte("\r\n")) {
		return append(bytes.Clone(msg), "\r\n"...)
	}
	return msg
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
