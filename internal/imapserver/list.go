package imapserver

import (
	"slices"
	"strings"

	"github.com/posthorn/posthorn/internal/imap"
	"github.com/posthorn/posthorn/internal/store"
)

// LIST (RFC 9051 §6.3.9) with LIST-EXTENDED (RFC 5258), SPECIAL-USE
// (RFC 6154) and LIST-STATUS (RFC 5819), and IMAP4rev1's LSUB (RFC 3501
// §6.3.9).
//
// Every listed mailbox carries \HasChildren or \HasNoChildren (RFC 9051
// §7.3.1) and its special-use attribute. A level that does not exist but
// has children (see mailbox.go) is listed as "\Noselect \HasChildren".

// listEntry is one name LIST may return.
type listEntry struct {
	name     string
	mb       store.Mailbox // zero for a missing level
	exists   bool
	children bool
	// subscribedChild: a descendant is subscribed (RECURSIVEMATCH).
	subscribedChild bool
}

// listOptions are LIST-EXTENDED's selection and return options.
type listOptions struct {
	subscribed, specialUse, recursive bool // selection
	retSubscribed, retStatus          bool // return
	statusItems                       []string
	// extended: LIST-EXTENDED syntax was used, so a missing name is
	// \NonExistent (RFC 5258 §3.4) rather than \Noselect.
	extended bool
}

func parseListOptions(a *imap.ListArgs) (listOptions, *imap.Error) {
	o := listOptions{extended: len(a.Selection) > 0 || a.Return != nil || len(a.Patterns) > 1}
	for _, s := range a.Selection {
		switch s {
		case "SUBSCRIBED":
			o.subscribed, o.retSubscribed = true, true
		case "SPECIAL-USE":
			o.specialUse = true
		case "RECURSIVEMATCH":
			o.recursive = true
		case "REMOTE":
		default:
			return o, &imap.Error{Status: imap.BAD, Text: "Unknown LIST selection option " + s}
		}
	}
	// RFC 5258 §3: RECURSIVEMATCH needs another selection option.
	if o.recursive && !o.subscribed && !o.specialUse {
		return o, &imap.Error{Status: imap.BAD, Text: "RECURSIVEMATCH without another selection option"}
	}
	for _, r := range a.Return {
		switch r {
		case "SUBSCRIBED":
			o.retSubscribed = true
		case "STATUS":
			o.retStatus = true
		case "CHILDREN", "SPECIAL-USE":
			// Always returned.
		default:
			return o, &imap.Error{Status: imap.BAD, Text: "Unknown LIST return option " + r}
		}
	}
	if o.retStatus {
		if pe := checkStatusItems(a.StatusItems); pe != nil {
			return o, pe
		}
		o.statusItems = a.StatusItems
	}
	return o, nil
}

// list is LIST and LSUB.
func (sess *session) list(a *imap.ListArgs, lsub bool) response {
	verb := "LIST"
	if lsub {
		verb = "LSUB"
	}
	o, pe := parseListOptions(a)
	if pe != nil {
		return fromError(pe)
	}
	if lsub {
		o.subscribed = true
	}
	if len(a.Patterns) == 1 && a.Patterns[0] == "" && len(a.Selection) == 0 {
		// RFC 9051 §6.3.9: the delimiter and the root of the reference.
		sess.out().Atom("* " + verb + ` (\Noselect) "/" ""` + "\r\n")
		return ok(verb + " completed")
	}
	mbs, err := sess.srv.store.Mailboxes(sess.srv.readCtx, sess.acct.ID)
	if err != nil {
		return sess.internalError("LIST", err)
	}
	entries := listEntries(mbs)
	var pats []pattern
	ref := sess.patternText(a.Reference)
	for _, p := range a.Patterns {
		full := ref + sess.patternText(p)
		if len(full) > maxPatternLength {
			return bad("Pattern too long")
		}
		pats = append(pats, compilePattern(full))
	}
	w := sess.out()
	matches := func(name string) bool {
		return slices.ContainsFunc(pats, func(p pattern) bool { return p.match(name) })
	}
	for _, e := range entries {
		if !matches(e.name) {
			continue
		}
		selected := !(o.subscribed && !(e.exists && e.mb.Subscribed)) &&
			!(o.specialUse && e.mb.SpecialUse == store.UseNone)
		childInfo, lsubParent := false, false
		switch {
		case selected:
		case o.recursive && o.subscribed && e.subscribedChild:
			// RFC 5258 §3.5: a parent of matching children is returned with
			// CHILDINFO under RECURSIVEMATCH (only SUBSCRIBED is tracked).
			childInfo = true
		case lsub && e.subscribedChild && hiddenSubscribedChild(entries, e.name, matches):
			// RFC 3501 §6.3.9: LSUB "%" returns the unsubscribed parent of
			// a subscribed name it does not reach, as \Noselect.
			lsubParent = true
		default:
			continue
		}
		attrs := sess.listAttributes(e, o, lsub)
		if lsubParent && e.exists {
			attrs = `\Noselect`
		}
		w.Atom("* " + verb + " (")
		w.Atom(attrs)
		w.Atom(`) "/" `)
		w.AString(sess.wireName(e.name))
		if childInfo {
			w.Atom(` ("CHILDINFO" ("SUBSCRIBED"))`)
		}
		w.CRLF()
		if o.retStatus && e.exists && !lsub {
			if err := sess.writeStatus(e.mb, o.statusItems); err != nil {
				sess.srv.log.Warn("imap LIST-STATUS", "conn", sess.id, "mailbox", e.name, "err", err)
			}
		}
	}
	return ok(verb + " completed")
}

// hiddenSubscribedChild reports whether a subscribed descendant of name
// does not match the patterns itself.
func hiddenSubscribedChild(entries []listEntry, name string, matches func(string) bool) bool {
	prefix := name + store.Delimiter
	for _, d := range entries {
		if d.exists && d.mb.Subscribed && strings.HasPrefix(d.name, prefix) && !matches(d.name) {
			return true
		}
	}
	return false
}

// listAttributes are the name attributes of one LIST line.
func (sess *session) listAttributes(e listEntry, o listOptions, lsub bool) string {
	var attrs []string
	switch {
	case e.exists:
	case o.extended:
		attrs = append(attrs, `\NonExistent`)
	default:
		attrs = append(attrs, `\Noselect`)
	}
	if !lsub {
		if e.children {
			attrs = append(attrs, `\HasChildren`)
		} else {
			attrs = append(attrs, `\HasNoChildren`)
		}
		if e.exists && o.retSubscribed && e.mb.Subscribed {
			attrs = append(attrs, `\Subscribed`)
		}
		if e.mb.SpecialUse != store.UseNone {
			attrs = append(attrs, string(e.mb.SpecialUse))
		}
	}
	return strings.Join(attrs, " ")
}

// patternText decodes a LIST reference or pattern from the wire; a
// pattern that is not valid modified UTF-7 is matched as sent.
func (sess *session) patternText(s string) string {
	if !sess.utf8() {
		if dec, err := imap.DecodeMailbox(s); err == nil {
			s = dec
		}
	}
	return s
}

// listEntries returns every mailbox and every missing level above one,
// INBOX first, then in name order.
func listEntries(mbs []store.Mailbox) []listEntry {
	byName := make(map[string]*listEntry, len(mbs))
	var entries []*listEntry
	for _, mb := range mbs {
		e := &listEntry{name: mb.Name, mb: mb, exists: true}
		byName[mb.Name] = e
		entries = append(entries, e)
	}
	for _, mb := range mbs {
		for _, p := range parents(mb.Name) {
			pe := byName[p]
			if pe == nil {
				pe = &listEntry{name: p}
				byName[p] = pe
				entries = append(entries, pe)
			}
			pe.children = true
			if mb.Subscribed {
				pe.subscribedChild = true
			}
		}
	}
	slices.SortFunc(entries, func(a, b *listEntry) int {
		switch {
		case a.name == store.Inbox:
			return -1
		case b.name == store.Inbox:
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	out := make([]listEntry, len(entries))
	for i, e := range entries {
		out[i] = *e
	}
	return out
}
