package imap

import (
	"strconv"
)

// AppendTo appends the command as a client sends it, CRLF included. String
// arguments that need literals use non-synchronizing literals ("{n+}", RFC
// 7888), so the result can be written in one go to a server with LITERAL+
// and read back by Reader.ReadCommand; tests and the fuzz target rely on
// that round trip. Arguments of extension commands (ReaderOptions.Extension)
// are not encoded.
func (c *Command) AppendTo(b []byte) []byte {
	b = append(b, c.Tag...)
	b = append(b, ' ')
	if c.UID {
		b = append(b, "UID "...)
	}
	b = append(b, c.Name...)
	switch a := c.Args.(type) {
	case *LoginArgs:
		b = append(b, ' ')
		b = appendAStringArg(b, a.Username)
		b = append(b, ' ')
		b = appendAStringArg(b, a.Password)
	case *AuthenticateArgs:
		b = append(b, ' ')
		b = append(b, a.Mechanism...)
		if a.HasInitialResponse {
			b = append(b, ' ')
			b = append(b, a.InitialResponse...)
		}
	case *EnableArgs:
		for _, c := range a.Capabilities {
			b = append(b, ' ')
			b = append(b, c...)
		}
	case *SelectArgs:
		b = append(b, ' ')
		b = appendAStringArg(b, a.Mailbox)
		b = a.appendParams(b)
	case *MailboxArgs:
		b = append(b, ' ')
		b = appendAStringArg(b, a.Mailbox)
	case *CreateArgs:
		b = append(b, ' ')
		b = appendAStringArg(b, a.Mailbox)
		if a.Use != nil {
			b = append(b, " (USE "...)
			b = appendFlagList(b, a.Use)
			b = append(b, ')')
		}
	case *RenameArgs:
		b = append(b, ' ')
		b = appendAStringArg(b, a.From)
		b = append(b, ' ')
		b = appendAStringArg(b, a.To)
	case *ListArgs:
		b = a.appendTo(b)
	case *StatusArgs:
		b = append(b, ' ')
		b = appendAStringArg(b, a.Mailbox)
		b = append(b, ' ')
		b = appendAtomList(b, a.Items)
	case *AppendArgs:
		b = append(b, ' ')
		b = appendAStringArg(b, a.Mailbox)
		for _, m := range a.Messages {
			b = m.appendTo(b)
		}
	case *SearchArgs:
		if a.Return != nil {
			b = append(b, " RETURN "...)
			b = appendAtomList(b, a.Return)
		}
		if a.Charset != "" {
			b = append(b, " CHARSET "...)
			if isAtom(a.Charset) {
				b = append(b, a.Charset...)
			} else {
				b = appendQuoted(b, a.Charset)
			}
		}
		b = append(b, ' ')
		b = a.Key.appendTo(b, true)
	case *FetchArgs:
		b = append(b, ' ')
		b = a.Set.AppendTo(b)
		b = append(b, " ("...)
		for i, it := range a.Items {
			if i > 0 {
				b = append(b, ' ')
			}
			b = it.AppendTo(b)
		}
		b = append(b, ')')
		if a.ChangedSince > 0 || a.Vanished {
			b = append(b, " ("...)
			if a.ChangedSince > 0 {
				b = append(b, "CHANGEDSINCE "...)
				b = strconv.AppendUint(b, a.ChangedSince, 10)
				if a.Vanished {
					b = append(b, ' ')
				}
			}
			if a.Vanished {
				b = append(b, "VANISHED"...)
			}
			b = append(b, ')')
		}
	case *StoreArgs:
		b = append(b, ' ')
		b = a.Set.AppendTo(b)
		if a.HasUnchanged {
			b = append(b, " (UNCHANGEDSINCE "...)
			b = strconv.AppendUint(b, a.UnchangedSince, 10)
			b = append(b, ')')
		}
		b = append(b, ' ')
		switch a.Op {
		case StoreAdd:
			b = append(b, '+')
		case StoreRemove:
			b = append(b, '-')
		}
		b = append(b, "FLAGS"...)
		if a.Silent {
			b = append(b, ".SILENT"...)
		}
		b = append(b, ' ')
		b = appendFlagList(b, a.Flags)
	case *CopyArgs:
		b = append(b, ' ')
		b = a.Set.AppendTo(b)
		b = append(b, ' ')
		b = appendAStringArg(b, a.Mailbox)
	case *ExpungeArgs:
		b = append(b, ' ')
		b = a.Set.AppendTo(b)
	case *IDArgs:
		b = append(b, ' ')
		if a.Fields == nil {
			b = append(b, "NIL"...)
			break
		}
		b = append(b, '(')
		for i, f := range a.Fields {
			if i > 0 {
				b = append(b, ' ')
			}
			b = appendStringArg(b, f)
			b = append(b, ' ')
			if a.HasValue[i] {
				b = appendStringArg(b, a.Values[i])
			} else {
				b = append(b, "NIL"...)
			}
		}
		b = append(b, ')')
	case *QuotaArgs:
		b = append(b, ' ')
		b = appendAStringArg(b, a.Root)
	case *SetQuotaArgs:
		b = append(b, ' ')
		b = appendAStringArg(b, a.Root)
		b = append(b, " ("...)
		for i, res := range a.Resources {
			if i > 0 {
				b = append(b, ' ')
			}
			b = append(b, res...)
			b = append(b, ' ')
			b = strconv.AppendUint(b, a.Limits[i], 10)
		}
		b = append(b, ')')
	}
	return append(b, "\r\n"...)
}

// appendStringArg appends a string argument: quoted or a non-synchronizing
// literal.
func appendStringArg(b []byte, s string) []byte {
	if quotable(s, true) {
		return appendQuoted(b, s)
	}
	return appendLiteral(b, s, true)
}

func appendAtomList(b []byte, items []string) []byte { return appendFlagList(b, items) }

func (a *SelectArgs) appendParams(b []byte) []byte {
	if !a.CondStore && a.QResync == nil {
		return b
	}
	b = append(b, " ("...)
	if a.CondStore {
		b = append(b, "CONDSTORE"...)
		if a.QResync != nil {
			b = append(b, ' ')
		}
	}
	if q := a.QResync; q != nil {
		b = append(b, "QRESYNC ("...)
		b = strconv.AppendUint(b, uint64(q.UIDValidity), 10)
		b = append(b, ' ')
		b = strconv.AppendUint(b, q.ModSeq, 10)
		if q.KnownUIDs != nil {
			b = append(b, ' ')
			b = q.KnownUIDs.AppendTo(b)
		}
		if q.KnownSeqs != nil {
			b = append(b, " ("...)
			b = q.KnownSeqs.AppendTo(b)
			b = append(b, ' ')
			b = q.KnownSeqUIDs.AppendTo(b)
			b = append(b, ')')
		}
		b = append(b, ')')
	}
	return append(b, ')')
}

func (a *ListArgs) appendTo(b []byte) []byte {
	b = append(b, ' ')
	if a.Selection != nil {
		b = appendAtomList(b, a.Selection)
		b = append(b, ' ')
	}
	b = appendAStringArg(b, a.Reference)
	b = append(b, ' ')
	if len(a.Patterns) == 1 {
		b = appendListMailbox(b, a.Patterns[0])
	} else {
		b = append(b, '(')
		for i, p := range a.Patterns {
			if i > 0 {
				b = append(b, ' ')
			}
			b = appendListMailbox(b, p)
		}
		b = append(b, ')')
	}
	if a.Return != nil {
		b = append(b, " RETURN ("...)
		for i, o := range a.Return {
			if i > 0 {
				b = append(b, ' ')
			}
			b = append(b, o...)
			if o == "STATUS" {
				b = append(b, ' ')
				b = appendAtomList(b, a.StatusItems)
			}
		}
		b = append(b, ')')
	}
	return b
}

func appendListMailbox(b []byte, s string) []byte {
	ok := s != ""
	for i := 0; i < len(s) && ok; i++ {
		ok = isListChar(s[i])
	}
	if ok {
		return append(b, s...)
	}
	return appendStringArg(b, s)
}

func (m AppendMessage) appendTo(b []byte) []byte {
	b = append(b, ' ')
	if m.Flags != nil {
		b = appendFlagList(b, m.Flags)
		b = append(b, ' ')
	}
	if !m.Date.IsZero() {
		b = AppendDateTime(b, m.Date)
		b = append(b, ' ')
	}
	if m.UTF8 {
		b = append(b, "UTF8 ("...)
	}
	if m.Binary || m.UTF8 {
		b = append(b, '~')
	}
	b = append(b, '{')
	b = strconv.AppendInt(b, int64(len(m.Data)), 10)
	b = append(b, "+}\r\n"...)
	b = append(b, m.Data...)
	if m.UTF8 {
		b = append(b, ')')
	}
	return b
}
