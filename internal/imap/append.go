package imap

// APPEND (RFC 9051 §6.3.12) with MULTIAPPEND (RFC 3502), literal8 (RFC
// 3516) and UTF8 (RFC 6855 §4).

func (r *Reader) appendArgs() (*AppendArgs, error) {
	m, err := r.Mailbox()
	if err != nil {
		return nil, err
	}
	a := &AppendArgs{Mailbox: m}
	for {
		if err := r.SP(); err != nil {
			return nil, err
		}
		msg, err := r.appendMessage()
		if err != nil {
			return nil, err
		}
		a.Messages = append(a.Messages, msg)
		if r.AtEOL() {
			return a, nil
		}
	}
}

// appendMessage reads [flag-list SP] [date-time SP] append-data (RFC 9051
// §6.3.12, RFC 3502 append-message, RFC 6855 §4 "UTF8", RFC 3516 literal8).
func (r *Reader) appendMessage() (AppendMessage, error) {
	var msg AppendMessage
	var err error
	if r.peek() == '(' {
		if msg.Flags, err = r.FlagList(); err != nil {
			return msg, err
		}
		if err = r.SP(); err != nil {
			return msg, err
		}
	}
	if r.peek() == '"' {
		if msg.Date, err = r.DateTime(); err != nil {
			return msg, err
		}
		if err = r.SP(); err != nil {
			return msg, err
		}
	}
	if c := r.peek(); c == 'U' || c == 'u' {
		kw, err := r.Atom()
		if err != nil {
			return msg, err
		}
		if toUpper(kw) != "UTF8" {
			return msg, r.bad("expected message literal")
		}
		if err = r.SP(); err != nil {
			return msg, err
		}
		if err = r.Expect('('); err != nil {
			return msg, err
		}
		if r.peek() != '~' {
			return msg, r.bad("UTF8 needs a literal8")
		}
		msg.UTF8 = true
	}
	l, err := r.literalHeader(true, true)
	if err != nil {
		return msg, err
	}
	msg.Binary = l.Binary && !msg.UTF8
	if msg.Data, err = r.literalBytes(l); err != nil {
		return msg, err
	}
	if !l.Binary {
		for _, c := range msg.Data {
			if c == 0 {
				return msg, r.bad("NUL in literal; use literal8")
			}
		}
	}
	if msg.UTF8 {
		err = r.Expect(')')
	}
	return msg, err
}
