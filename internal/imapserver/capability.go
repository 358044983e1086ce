package imapserver

import (
	"strconv"
	"strings"

	"github.com/posthorn/posthorn/internal/imap"
)

// utf8 reports whether mailbox names and quoted strings are UTF-8 (RFC
// 9051, RFC 6855) rather than modified UTF-7 and 7-bit: after ENABLE
// IMAP4rev2 or UTF8=ACCEPT.
func (sess *session) utf8() bool { return sess.caps.Rev2 || sess.caps.UTF8 }

// sessionCaps are advertised in every state once TLS is in place (or
// plaintext logins are allowed).
var sessionCaps = []string{"IMAP4rev1", "IMAP4rev2", "LITERAL+", "ENABLE", "IDLE", "ID", "SASL-IR"}

// loggedInCaps are added after login. Each is implemented by this package
// or package selected; none is listed before it works.
var loggedInCaps = []string{
	"NAMESPACE", "UNSELECT", "UIDPLUS", "MOVE", "CONDSTORE", "QRESYNC", "ESEARCH", "SEARCHRES", "BINARY", "SPECIAL-USE", "CREATE-SPECIAL-USE", "LIST-EXTENDED", "LIST-STATUS",
	"STATUS=SIZE", "UTF8=ACCEPT", "QUOTA", "QUOTA=RES-STORAGE",
}

// capabilities is the CAPABILITY list for the session's state (RFC 9051
// §7.2.2). Before TLS: STARTTLS and LOGINDISABLED, no AUTH= (RFC 9051
// §6.2.3, RFC 8314); after login the extensions and APPENDLIMIT (RFC 7889).
func (sess *session) capabilities() string {
	var b strings.Builder
	b.WriteString("IMAP4rev1 IMAP4rev2")
	if sess.state == stateNotAuth {
		if sess.tls == nil && sess.srv.opts.TLSConfig != nil {
			b.WriteString(" STARTTLS")
		}
		if !sess.plaintextOK() {
			b.WriteString(" LOGINDISABLED")
		} else {
			for _, m := range sess.mechanisms() {
				b.WriteString(" AUTH=" + m)
			}
		}
	}
	for _, c := range sessionCaps[2:] {
		b.WriteString(" " + c)
	}
	if sess.state != stateNotAuth {
		for _, c := range loggedInCaps {
			b.WriteString(" " + c)
		}
		b.WriteString(" APPENDLIMIT=" + strconv.FormatInt(sess.srv.opts.MaxMessageSize, 10))
	}
	return b.String()
}

// plaintextOK reports whether credentials may be sent on this connection:
// with TLS, or from loopback when AllowPlaintextAuth is set.
func (sess *session) plaintextOK() bool {
	return sess.tls != nil || (sess.srv.opts.AllowPlaintextAuth && sess.ip.IsLoopback())
}

// mechanisms are the SASL mechanisms this connection may use.
func (sess *session) mechanisms() []string {
	if !sess.plaintextOK() {
		return nil
	}
	return sess.srv.auth.Mechanisms(sess.tls != nil)
}

// enable is ENABLE (RFC 5161 §3.1): the answer lists what was turned on
// by this command; unknown names are ignored.
func (sess *session) enable(a *imap.EnableArgs) response {
	var on []string
	for _, c := range a.Capabilities {
		var f *bool
		switch c {
		case "IMAP4REV2":
			f, c = &sess.caps.Rev2, "IMAP4rev2"
		case "CONDSTORE":
			f = &sess.caps.CondStore
		case "QRESYNC":
			// RFC 7162 §3.2.3: QRESYNC implies CONDSTORE.
			f = &sess.caps.QResync
			sess.caps.CondStore = true
		case "UTF8=ACCEPT":
			f = &sess.caps.UTF8
		default:
			continue
		}
		if !*f {
			*f = true
			on = append(on, c)
		}
	}
	w := sess.out()
	w.Atom("* ENABLED")
	for _, c := range on {
		w.Atom(" " + c)
	}
	w.CRLF()
	return ok("ENABLE completed")
}

// idCmd is ID (RFC 2971): the client's fields go to the debug log, ours
// name the software only.
func (sess *session) idCmd(a *imap.IDArgs) response {
	if len(a.Fields) > 30 {
		return bad("Too many ID fields")
	}
	if len(a.Fields) > 0 {
		attrs := []any{"conn", sess.id}
		for i, f := range a.Fields {
			if len(f) <= 30 && len(a.Values[i]) <= 1024 {
				attrs = append(attrs, "id_"+strings.ToLower(f), a.Values[i])
			}
		}
		sess.srv.log.Debug("imap client id", attrs...)
	}
	sess.out().Atom(`* ID ("name" "posthorn")` + "\r\n")
	return ok("ID completed")
}
