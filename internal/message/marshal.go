package message

import (
	"encoding/binary"
	"errors"
)

// marshalVersion is the first octet of Marshal's output, so a later format
// can be told apart in stored rows.
const marshalVersion = 1

// errCorrupt is returned by Unmarshal for input Marshal did not write.
var errCorrupt = errors.New("message: corrupt structure")

// Marshal serialises a part tree for a database column: a version octet,
// then each part as unsigned varints and length-prefixed strings, children
// in order. Strings are kept byte for byte (8-bit header values included,
// which JSON would not preserve). Unmarshal reads it back.
func Marshal(p *Part) []byte {
	b := make([]byte, 0, 256)
	b = append(b, marshalVersion)
	return appendPart(b, p)
}

func appendPart(b []byte, p *Part) []byte {
	for _, n := range [...]int{p.HeaderStart, p.HeaderEnd, p.BodyStart, p.BodyEnd, p.Lines} {
		b = binary.AppendUvarint(b, uint64(n))
	}
	for _, s := range [...]string{p.Type, p.Subtype, p.ID, p.Description, p.Encoding, p.MD5, p.Disposition, p.Location} {
		b = appendStr(b, s)
	}
	b = appendParamList(b, p.Params)
	b = appendParamList(b, p.DispositionParams)
	b = binary.AppendUvarint(b, uint64(len(p.Language)))
	for _, l := range p.Language {
		b = appendStr(b, l)
	}
	var flags byte
	if p.Envelope != nil {
		flags |= 1
	}
	if p.Message != nil {
		flags |= 2
	}
	b = append(b, flags)
	if e := p.Envelope; e != nil {
		for _, s := range [...]string{e.Date, e.Subject, e.InReplyTo, e.MessageID} {
			b = appendStr(b, s)
		}
		for _, list := range [...][]Address{e.From, e.Sender, e.ReplyTo, e.To, e.Cc, e.Bcc} {
			b = binary.AppendUvarint(b, uint64(len(list)))
			for _, a := range list {
				b = appendStr(b, a.Name)
				b = appendStr(b, a.ADL)
				b = appendStr(b, a.Mailbox)
				b = appendStr(b, a.Host)
			}
		}
	}
	b = binary.AppendUvarint(b, uint64(len(p.Parts)))
	for _, c := range p.Parts {
		b = appendPart(b, c)
	}
	if p.Message != nil {
		b = appendPart(b, p.Message)
	}
	return b
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendParamList(b []byte, ps []Param) []byte {
	b = binary.AppendUvarint(b, uint64(len(ps)))
	for _, p := range ps {
		b = appendStr(b, p.Name)
		b = appendStr(b, p.Value)
	}
	return b
}

// Unmarshal reads what Marshal wrote. It fails on anything else, without
// panicking.
func Unmarshal(b []byte) (*Part, error) {
	if len(b) == 0 || b[0] != marshalVersion {
		return nil, errCorrupt
	}
	d := &decoder{b: b[1:], s: string(b[1:])}
	p := d.part(0)
	if d.err != nil || len(d.b) != 0 {
		return nil, errCorrupt
	}
	return p, nil
}

// decoder reads b; s is the same octets as one string, so that decoded
// strings share its memory instead of being allocated one by one.
type decoder struct {
	b   []byte
	s   string
	err error
}

func (d *decoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	n, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[k:]
	return n
}

func (d *decoder) int() int {
	n := d.uint()
	if n > MaxSize {
		d.err = errCorrupt
		return 0
	}
	return int(n)
}

// count reads a list length, bounded by what the input could hold.
func (d *decoder) count() int {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.err = errCorrupt
		return 0
	}
	return int(n)
}

func (d *decoder) str() string {
	n := d.count()
	if d.err != nil {
		return ""
	}
	off := len(d.s) - len(d.b)
	d.b = d.b[n:]
	return d.s[off : off+n]
}

func (d *decoder) params() []Param {
	n := d.count()
	if n == 0 {
		return nil
	}
	ps := make([]Param, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		ps = append(ps, Param{Name: d.str(), Value: d.str()})
	}
	return ps
}

func (d *decoder) part(depth int) *Part {
	if depth > 2*MaxDepth+2 {
		d.err = errCorrupt
	}
	if d.err != nil {
		return nil
	}
	p := &Part{}
	p.HeaderStart, p.HeaderEnd, p.BodyStart, p.BodyEnd, p.Lines = d.int(), d.int(), d.int(), d.int(), d.int()
	p.Type, p.Subtype, p.ID, p.Description = d.str(), d.str(), d.str(), d.str()
	p.Encoding, p.MD5, p.Disposition, p.Location = d.str(), d.str(), d.str(), d.str()
	p.Params = d.params()
	p.DispositionParams = d.params()
	if n := d.count(); n > 0 {
		p.Language = make([]string, 0, n)
		for i := 0; i < n && d.err == nil; i++ {
			p.Language = append(p.Language, d.str())
		}
	}
	if d.err != nil || len(d.b) == 0 {
		d.err = errCorrupt
		return nil
	}
	flags := d.b[0]
	d.b = d.b[1:]
	if flags&^3 != 0 {
		d.err = errCorrupt
		return nil
	}
	if flags&1 != 0 {
		e := &Envelope{}
		e.Date, e.Subject, e.InReplyTo, e.MessageID = d.str(), d.str(), d.str(), d.str()
		for _, list := range [...]*[]Address{&e.From, &e.Sender, &e.ReplyTo, &e.To, &e.Cc, &e.Bcc} {
			n := d.count()
			if n == 0 {
				continue
			}
			*list = make([]Address, 0, n)
			for i := 0; i < n && d.err == nil; i++ {
				*list = append(*list, Address{Name: d.str(), ADL: d.str(), Mailbox: d.str(), Host: d.str()})
			}
		}
		p.Envelope = e
	}
	if n := d.count(); n > 0 {
		p.Parts = make([]*Part, 0, n)
		for i := 0; i < n && d.err == nil; i++ {
			p.Parts = append(p.Parts, d.part(depth+1))
		}
	}
	if flags&2 != 0 {
		p.Message = d.part(depth + 1)
	}
	return p
}

// Structure is Marshal(Parse(body)), what the store keeps beside each
// body for ENVELOPE and BODYSTRUCTURE, or nil when Parse refuses body.
func Structure(body []byte) []byte {
	p, err := Parse(body)
	if err != nil {
		return nil
	}
	return Marshal(p)
}
