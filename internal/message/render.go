package message

import (
	"strconv"
	"strings"

	"github.com/posthorn/posthorn/internal/imap"
)

// BodyStructure returns the BODYSTRUCTURE value of the part (RFC 9051
// §7.5.2 and §9 body), with extension data, or with ext false the BODY
// value (no extension data).
func (p *Part) BodyStructure(ext bool) []byte { return p.AppendBodyStructure(nil, ext) }

// AppendBodyStructure appends the BODYSTRUCTURE (ext) or BODY value for
// IMAP4rev2 (RFC 9051), where message/global parts carry an envelope and
// body like message/rfc822.
func (p *Part) AppendBodyStructure(b []byte, ext bool) []byte { return p.appendBody(b, ext, false) }

// AppendBodyStructureRev1 appends the value for IMAP4rev1 clients (RFC
// 3501 §9 media-message is MESSAGE/RFC822 only): message/global parts are
// written as basic parts, as Dovecot 2.3 does, so rev1 parsers are not
// misled.
func (p *Part) AppendBodyStructureRev1(b []byte, ext bool) []byte { return p.appendBody(b, ext, true) }

func (p *Part) appendBody(b []byte, ext, rev1 bool) []byte {
	b = append(b, '(')
	if p.IsMultipart() {
		// body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
		for _, c := range p.Parts {
			b = c.appendBody(b, ext, rev1)
		}
		b = append(b, ' ')
		b = imap.AppendString(b, p.Subtype)
		if ext {
			// body-ext-mpart = body-fld-param [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc]]]
			b = append(b, ' ')
			b = appendParams(b, p.Params)
			b = p.appendExtTail(b)
		}
		return append(b, ')')
	}
	// body-type-1part: body-fields = body-fld-param SP body-fld-id SP
	// body-fld-desc SP body-fld-enc SP body-fld-octets
	b = imap.AppendString(b, p.Type)
	b = append(b, ' ')
	b = imap.AppendString(b, p.Subtype)
	b = append(b, ' ')
	b = appendParams(b, p.Params)
	b = append(b, ' ')
	b = imap.AppendNString(b, p.ID)
	b = append(b, ' ')
	b = imap.AppendNString(b, p.Description)
	b = append(b, ' ')
	b = imap.AppendString(b, p.Encoding)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(p.Size()), 10)
	switch {
	case p.Message != nil && !(rev1 && !strings.EqualFold(p.Subtype, "rfc822")):
		// body-type-msg: SP envelope SP body SP body-fld-lines
		b = append(b, ' ')
		b = p.Message.Envelope.AppendTo(b)
		b = append(b, ' ')
		b = p.Message.appendBody(b, ext, rev1)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(p.Lines), 10)
	case strings.EqualFold(p.Type, "text"):
		// body-type-text: SP body-fld-lines
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(p.Lines), 10)
	}
	if ext {
		// body-ext-1part = body-fld-md5 [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc]]]
		b = append(b, ' ')
		b = imap.AppendNString(b, p.MD5)
		b = p.appendExtTail(b)
	}
	return append(b, ')')
}

// appendExtTail appends SP body-fld-dsp SP body-fld-lang SP body-fld-loc.
func (p *Part) appendExtTail(b []byte) []byte {
	b = append(b, ' ')
	if p.Disposition == "" {
		b = append(b, "NIL"...)
	} else {
		b = append(b, '(')
		b = imap.AppendString(b, p.Disposition)
		b = append(b, ' ')
		b = appendParams(b, p.DispositionParams)
		b = append(b, ')')
	}
	b = append(b, ' ')
	if len(p.Language) == 0 {
		b = append(b, "NIL"...)
	} else {
		b = append(b, '(')
		for i, l := range p.Language {
			if i > 0 {
				b = append(b, ' ')
			}
			b = imap.AppendString(b, l)
		}
		b = append(b, ')')
	}
	b = append(b, ' ')
	return imap.AppendNString(b, p.Location)
}

// appendParams appends body-fld-param: NIL or ("name" "value" ...).
func appendParams(b []byte, params []Param) []byte {
	if len(params) == 0 {
		return append(b, "NIL"...)
	}
	b = append(b, '(')
	for i, p := range params {
		if i > 0 {
			b = append(b, ' ')
		}
		b = imap.AppendString(b, p.Name)
		b = append(b, ' ')
		b = imap.AppendString(b, p.Value)
	}
	return append(b, ')')
}

// AppendTo appends the ENVELOPE value (RFC 9051 §9 envelope).
func (e *Envelope) AppendTo(b []byte) []byte {
	if e == nil {
		e = &Envelope{}
	}
	b = append(b, '(')
	b = imap.AppendNString(b, e.Date)
	b = append(b, ' ')
	b = imap.AppendNString(b, e.Subject)
	for _, list := range [...][]Address{e.From, e.Sender, e.ReplyTo, e.To, e.Cc, e.Bcc} {
		b = append(b, ' ')
		b = appendAddresses(b, list)
	}
	b = append(b, ' ')
	b = imap.AppendNString(b, e.InReplyTo)
	b = append(b, ' ')
	b = imap.AppendNString(b, e.MessageID)
	return append(b, ')')
}

// String returns the ENVELOPE value.
func (e *Envelope) String() string { return string(e.AppendTo(nil)) }

func appendAddresses(b []byte, list []Address) []byte {
	if len(list) == 0 {
		return append(b, "NIL"...)
	}
	b = append(b, '(')
	for _, a := range list {
		b = append(b, '(')
		b = imap.AppendNString(b, a.Name)
		b = append(b, ' ')
		b = imap.AppendNString(b, a.ADL)
		b = append(b, ' ')
		b = imap.AppendNString(b, a.Mailbox)
		b = append(b, ' ')
		b = imap.AppendNString(b, a.Host)
		b = append(b, ')')
	}
	return append(b, ')')
}
