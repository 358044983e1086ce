package message

// Envelope is the ENVELOPE of a message (RFC 9051 §7.5.2): raw header
// values, unfolded, with RFC 2047 encoded words left for the client.
// Empty strings and nil lists are NIL.
type Envelope struct {
	Date      string
	Subject   string
	From      []Address
	Sender    []Address
	ReplyTo   []Address
	To        []Address
	Cc        []Address
	Bcc       []Address
	InReplyTo string
	MessageID string
}

// Address is one address of an envelope (RFC 9051 §9 address): display
// name, source route (obs-route, RFC 5322 §4.4), local part and domain.
// Groups (RFC 5322 §3.4) are marked as RFC 9051 says: the group's start
// has Mailbox = group name and an empty Host, its end has all fields
// empty.
type Address struct {
	Name    string
	ADL     string
	Mailbox string
	Host    string
}

// Placeholders Dovecot uses for addresses without a local part or domain;
// posthorn does the same, since NIL host would mean a group marker.
const (
	MissingMailbox = "MISSING_MAILBOX"
	MissingDomain  = "MISSING_DOMAIN"
)

// IsGroupStart reports whether a is the start of a group.
func (a Address) IsGroupStart() bool { return a.Host == "" && a.Mailbox != "" }

// IsGroupEnd reports whether a is the end of a group.
func (a Address) IsGroupEnd() bool { return a == Address{} }

func envelopeOf(h header) *Envelope {
	e := &Envelope{}
	e.Date, _ = h.get("Date")
	e.Subject, _ = h.get("Subject")
	e.From = addressField(h, "From")
	e.Sender = addressField(h, "Sender")
	e.ReplyTo = addressField(h, "Reply-To")
	e.To = addressField(h, "To")
	e.Cc = addressField(h, "Cc")
	e.Bcc = addressField(h, "Bcc")
	e.InReplyTo, _ = h.get("In-Reply-To")
	e.MessageID, _ = h.get("Message-ID")
	// RFC 9051 §7.5.2: absent or empty Sender and Reply-To take From.
	if len(e.Sender) == 0 {
		e.Sender = e.From
	}
	if len(e.ReplyTo) == 0 {
		e.ReplyTo = e.From
	}
	return e
}

func addressField(h header, name string) []Address {
	v, ok := h.get(name)
	if !ok {
		return nil
	}
	return ParseAddressList(v)
}

// ParseAddressList parses an address list leniently (RFC 5322 §3.4 with
// the obsolete forms of §4.4): display names are unquoted phrases,
// comments are dropped, a missing local part or domain is replaced by
// MissingMailbox or MissingDomain, and group syntax yields group markers.
// It never fails; what cannot be read is skipped.
func ParseAddressList(v string) []Address {
	l := &lexer{s: v}
	var out []Address
	inGroup := false
	afterComma := false // an empty element between commas is a missing address, as in Dovecot
	for l.peek() != 0 {
		phrase, words := l.phrase()
		c := l.peek()
		if c != ',' {
			afterComma = false
		}
		switch c {
		case ':':
			l.i++
			if inGroup {
				continue
			}
			inGroup = true
			out = append(out, Address{Mailbox: orMissing(phrase, MissingMailbox)})
		case '<':
			l.i++
			a := l.angleAddr()
			a.Name = phrase
			out = append(out, a)
			l.skipJunk()
		case '@':
			l.i++
			l.comment = ""
			a := Address{Mailbox: orMissing(words, MissingMailbox), Host: orMissing(l.domain(), MissingDomain)}
			if l.peek(); l.comment != "" {
				a.Name = l.comment // "user@host (Full Name)"
			}
			out = append(out, a)
			l.skipJunk()
		case ';':
			l.i++
			if words != "" {
				out = append(out, Address{Mailbox: words, Host: MissingDomain})
			}
			if inGroup {
				out = append(out, Address{})
				inGroup = false
			}
		case ',', 0:
			switch {
			case words != "":
				out = append(out, Address{Mailbox: words, Host: MissingDomain})
			case afterComma && c == ',':
				out = append(out, Address{Mailbox: MissingMailbox, Host: MissingDomain})
			}
			if c == ',' {
				l.i++
				afterComma = true
			}
		default:
			l.i++ // a stray special such as '>' or '"'
		}
	}
	if inGroup {
		out = append(out, Address{})
	}
	return out
}

func orMissing(s, missing string) string {
	if s == "" {
		return missing
	}
	return s
}

// isAtext reports atom characters (RFC 5322 §3.2.3) plus "." (obs-phrase,
// dot-atom) and 8-bit octets (seen in the wild, kept raw).
func isAtext(c byte) bool {
	if c >= 0x80 {
		return true
	}
	if c <= ' ' || c == 0x7f {
		return false
	}
	switch c {
	case '(', ')', '<', '>', '[', ']', ':', ';', '@', '\\', ',', '"':
		return false
	}
	return true
}

// phrase reads words (atoms and quoted strings). It returns them joined by
// single spaces, unquoted, as a display name, and as written without
// spaces, as a local part.
func (l *lexer) phrase() (name, local string) {
	var nb, lb []byte
	for {
		c := l.peek()
		var w string
		switch {
		case c == '"':
			start := l.i
			w = l.quoted()
			lb = append(lb, l.s[start:l.i]...)
		case isAtext(c):
			start := l.i
			for l.i < len(l.s) && isAtext(l.s[l.i]) {
				l.i++
			}
			w = l.s[start:l.i]
			lb = append(lb, w...)
		default:
			return string(nb), string(lb)
		}
		if len(nb) > 0 {
			nb = append(nb, ' ')
		}
		nb = append(nb, w...)
	}
}

// angleAddr reads [obs-route] addr-spec ">" after "<".
func (l *lexer) angleAddr() Address {
	var a Address
	if l.peek() == '@' {
		// obs-route: "@" domain *("," ["@" domain]) ":"
		start := l.i
		for l.i < len(l.s) && l.s[l.i] != ':' && l.s[l.i] != '>' {
			l.i++
		}
		if l.i < len(l.s) && l.s[l.i] == ':' {
			a.ADL = l.s[start:l.i]
			l.i++
		} else {
			l.i = start
		}
	}
	_, local := l.phrase()
	a.Mailbox = orMissing(local, MissingMailbox)
	if l.peek() == '@' {
		l.i++
		a.Host = l.domain()
	}
	a.Host = orMissing(a.Host, MissingDomain)
	l.skipTo('>')
	if l.i < len(l.s) {
		l.i++
	}
	return a
}

// domain reads a domain: dot-atom or domain literal.
func (l *lexer) domain() string {
	if l.peek() == '[' {
		start := l.i
		for l.i < len(l.s) && l.s[l.i] != ']' {
			l.i++
		}
		if l.i < len(l.s) {
			l.i++
		}
		return l.s[start:l.i]
	}
	_, d := l.phrase()
	return d
}

// skipJunk skips what follows a complete address up to the next "," or
// ";" (outside quoted strings), as Dovecot does with "<a@b> junk".
func (l *lexer) skipJunk() {
	for l.i < len(l.s) {
		switch l.s[l.i] {
		case ',', ';':
			return
		case '"':
			l.quoted()
		default:
			l.i++
		}
	}
}
