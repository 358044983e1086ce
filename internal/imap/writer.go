package imap

import (
	"bufio"
	"io"
	"strconv"
	"time"
)

// Writer encodes server responses (RFC 9051 §7) onto a bufio.Writer. It
// builds nothing large in memory: literals are copied from an io.Reader.
// Methods write one grammar element each and never a separator unless
// named so; the first write error sticks and is returned by Flush and Err.
//
// A typical untagged response:
//
//	w.Untagged()
//	w.Number(3)
//	w.Atom(" FETCH (UID ")
//	...
//	w.CRLF()
type Writer struct {
	bw  *bufio.Writer
	err error
	// UTF8 allows 8-bit UTF-8 in quoted strings, for IMAP4rev2 and clients
	// that enabled UTF8=ACCEPT (RFC 9051 §9 QUOTED-CHAR, RFC 6855).
	UTF8    bool
	scratch []byte
}

// NewWriter returns a Writer on bw.
func NewWriter(bw *bufio.Writer) *Writer { return &Writer{bw: bw} }

// Err returns the first write error.
func (w *Writer) Err() error { return w.err }

// Flush flushes buffered output.
func (w *Writer) Flush() error {
	if w.err == nil {
		w.err = w.bw.Flush()
	}
	return w.err
}

func (w *Writer) write(b []byte) {
	if w.err == nil {
		_, w.err = w.bw.Write(b)
	}
}

func (w *Writer) writeString(s string) {
	if w.err == nil {
		_, w.err = w.bw.WriteString(s)
	}
}

// Raw writes octets that are already IMAP syntax, such as a cached
// BODYSTRUCTURE.
func (w *Writer) Raw(b []byte) { w.write(b) }

// Atom writes s unchanged; the caller makes sure it is valid at that spot
// (an atom, a keyword, or fixed syntax such as " FETCH (").
func (w *Writer) Atom(s string) { w.writeString(s) }

// SP writes one space.
func (w *Writer) SP() { w.writeString(" ") }

// Untagged starts an untagged response: "* ".
func (w *Writer) Untagged() { w.writeString("* ") }

// CRLF ends a response line.
func (w *Writer) CRLF() { w.writeString("\r\n") }

// Number writes a number.
func (w *Writer) Number(n uint32) { w.write(strconv.AppendUint(w.scratch[:0], uint64(n), 10)) }

// Number64 writes a number64 or mod-sequence.
func (w *Writer) Number64(n uint64) { w.write(strconv.AppendUint(w.scratch[:0], n, 10)) }

// Nil writes NIL.
func (w *Writer) Nil() { w.writeString("NIL") }

// String writes s as a string: quoted when it can be, else a literal.
func (w *Writer) String(s string) {
	w.scratch = w.scratch[:0]
	if quotable(s, w.UTF8) {
		w.scratch = appendQuoted(w.scratch, s)
	} else {
		w.scratch = appendLiteral(w.scratch, s, false)
	}
	w.write(w.scratch)
}

// AString writes s as an atom if it is one, else as a string; mailbox
// names in LIST and STATUS responses use this.
func (w *Writer) AString(s string) {
	if isAString(s) && !eqFold(s, "NIL") {
		w.writeString(s)
		return
	}
	w.String(s)
}

// NString writes NIL when ok is false, else the string s.
func (w *Writer) NString(s string, ok bool) {
	if !ok {
		w.Nil()
		return
	}
	w.String(s)
}

// Literal writes a literal of size octets copied from r (RFC 9051 §4.3).
// r must yield exactly size octets.
func (w *Writer) Literal(size int64, r io.Reader) { w.literal("{", size, r) }

// Literal8 writes a literal8 ("~{n}", RFC 3516 §4.2) for BINARY[...]
// contents that contain NUL.
func (w *Writer) Literal8(size int64, r io.Reader) { w.literal("~{", size, r) }

func (w *Writer) literal(open string, size int64, r io.Reader) {
	w.writeString(open)
	w.write(strconv.AppendInt(w.scratch[:0], size, 10))
	w.writeString("}\r\n")
	if w.err != nil {
		return
	}
	n, err := io.CopyN(w.bw, r, size)
	if err != nil && w.err == nil {
		w.err = err
	}
	if n < size && w.err == nil {
		w.err = io.ErrUnexpectedEOF
	}
}

// Flags writes "(" flags ")".
func (w *Writer) Flags(flags []string) { w.write(appendFlagList(w.scratch[:0], flags)) }

// DateTime writes a quoted date-time.
func (w *Writer) DateTime(t time.Time) { w.write(AppendDateTime(w.scratch[:0], t)) }

// SeqSet writes a sequence set.
func (w *Writer) SeqSet(s SeqSet) { w.write(s.AppendTo(w.scratch[:0])) }

// Status writes a status response (RFC 9051 §7.1): tag, or "*" when tag is
// "", the condition, an optional response code in brackets, and text. The
// text must be non-empty (RFC 9051 resp-text; "OK" is used otherwise for
// safety by clients): an empty text is written as the condition name.
func (w *Writer) Status(tag string, st Status, code, text string) {
	if tag == "" {
		tag = "*"
	}
	w.writeString(tag)
	w.SP()
	w.writeString(string(st))
	w.SP()
	if code != "" {
		w.writeString("[")
		w.writeString(code)
		w.writeString("] ")
	}
	if text == "" {
		text = string(st)
	}
	w.writeString(sanitizeText(text))
	w.CRLF()
}

// Error writes the status response for a protocol error.
func (w *Writer) Error(e *Error) { w.Status(e.Tag, e.Status, e.Code, e.Text) }

// Continue writes a continuation request "+ text" (RFC 9051 §7.5).
func (w *Writer) Continue(text string) {
	if text == "" {
		text = "Ready"
	}
	w.writeString("+ ")
	w.writeString(sanitizeText(text))
	w.CRLF()
}

// sanitizeText keeps response text on one line: CR and LF become spaces.
func sanitizeText(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\r' || s[i] == '\n' || s[i] == 0 {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] == '\r' || b[j] == '\n' || b[j] == 0 {
					b[j] = ' '
				}
			}
			return string(b)
		}
	}
	return s
}
