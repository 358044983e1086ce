package imapserver

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/posthorn/posthorn/internal/imap"
	"github.com/posthorn/posthorn/internal/store"
)

// Mailbox names (RFC 9051 §5.1). The store keeps them in UTF-8, NFC
// normalised, with "/" between levels; every name is relative to the
// logged-in account, whose ID scopes every store call, so no name can
// reach another account's mailboxes. IMAP4rev1 clients see and send
// modified UTF-7 (RFC 3501 §5.1.3), IMAP4rev2 and UTF8=ACCEPT clients
// UTF-8 (RFC 6855 §3). INBOX is case-insensitive, also as the first level
// of its children ("inbox/x" is "INBOX/x").

// maxNameLength caps a mailbox name in octets of UTF-8.
const maxNameLength = 1000

// wireName is how a stored name is sent to this client.
func (sess *session) wireName(name string) string {
	if sess.utf8() {
		return name
	}
	return imap.EncodeMailbox(name)
}

// decodeName turns a name from the wire into its stored form, or reports
// that it is not a valid name.
func (sess *session) decodeName(wire string) (string, bool) {
	name := wire
	if !sess.utf8() {
		dec, err := imap.DecodeMailbox(wire)
		if err != nil {
			return "", false
		}
		name = dec
	}
	return canonicalName(name)
}

// canonicalName normalises a UTF-8 name and checks it: non-empty, no
// empty, "." or ".." levels, no controls, no wildcards, not too long. A
// trailing "/" is dropped (RFC 9051 §6.3.4: CREATE "foo/" creates foo).
func canonicalName(name string) (string, bool) {
	if !utf8.ValidString(name) {
		return "", false
	}
	name = norm.NFC.String(strings.TrimSuffix(name, store.Delimiter))
	if len(name) >= len(store.Inbox) && strings.EqualFold(name[:len(store.Inbox)], store.Inbox) &&
		(len(name) == len(store.Inbox) || strings.HasPrefix(name[len(store.Inbox):], store.Delimiter)) {
		name = store.Inbox + name[len(store.Inbox):]
	}
	if name == "" || len(name) > maxNameLength || strings.ContainsAny(name, "*%") ||
		strings.ContainsFunc(name, func(r rune) bool { return unicode.IsControl(r) || r == utf8.RuneError }) {
		return "", false
	}
	for level := range strings.SplitSeq(name, store.Delimiter) {
		if level == "" || level == "." || level == ".." {
			return "", false
		}
	}
	return name, true
}

// parents returns the names above name, shortest first ("a", "a/b" for
// "a/b/c").
func parents(name string) []string {
	var ps []string
	for i := 0; i < len(name); i++ {
		if name[i] == store.Delimiter[0] {
			ps = append(ps, name[:i])
		}
	}
	return ps
}

// errBadName answers a name that cannot exist.
var errBadName = no("CANNOT", "Invalid mailbox name")

// nonexistent answers a name that does not exist (RFC 5530).
var nonexistent = no("NONEXISTENT", "No such mailbox")
