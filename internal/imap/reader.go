package imap

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"unicode/utf8"
)

// Default limits of a Reader.
const (
	DefaultMaxLine    = 64 * 1024 // as Dovecot's imap_max_line_length
	DefaultMaxLiteral = 64 * 1024
	DefaultMaxAppend  = 64 << 20
	// LiteralMinusMax is the largest non-synchronizing literal a client may
	// send to a server that advertises LITERAL- (RFC 7888 §5).
	LiteralMinusMax = 4096
	maxNesting      = 64 // nested parentheses in SEARCH and lists
)

// Literal describes a literal whose header ("{n}", "{n+}", "~{n}") has been
// read and whose octets have not (RFC 9051 §4.3, RFC 7888, RFC 3516).
type Literal struct {
	Size    int64
	NonSync bool // "{n+}": the client does not wait for "+"
	Binary  bool // literal8 "~{n}": may contain NUL
	Append  bool // the message of an APPEND
}

// ReaderOptions are the limits and the literal hook of a Reader. Zero
// values mean the defaults.
type ReaderOptions struct {
	MaxLine    int   // octets in one command line outside literals
	MaxLiteral int64 // literals other than APPEND messages
	MaxAppend  int64 // APPEND message literals (APPENDLIMIT, RFC 7889)
	// MaxCommand caps the sum of all literals of one command (many small
	// literals in a SEARCH, several messages in a MULTIAPPEND), since
	// ReadCommand holds them in memory. Default: twice the larger of
	// MaxAppend and MaxLiteral.
	MaxCommand int64
	// LiteralMinus limits non-synchronizing literals to LiteralMinusMax
	// octets, as a server advertising LITERAL- instead of LITERAL+ must.
	LiteralMinus bool
	// Literal is called after a literal's header was read and the limits
	// passed, before any of its octets are read. For a synchronizing literal
	// the server sends its "+" continuation here. An error aborts the
	// command and is returned from ReadCommand; an *Error is answered as is.
	Literal func(Literal) error
	// Extension, if set, parses the arguments of commands ReadCommand does
	// not know (SORT, THREAD, GETMETADATA, ...) with the Reader's exported
	// methods. It is called after the command name, before the SP that
	// would follow it, and must stop before the CRLF. Its result becomes
	// Command.Args. Returning an *Error with Status BAD rejects the command.
	// Without it unknown commands are answered BAD.
	Extension func(r *Reader, cmd *Command) (any, error)
}

// Reader reads IMAP commands from a client. It is not safe for concurrent
// use. Its methods other than ReadCommand are the building blocks for
// extension commands; each reads exactly the grammar element named.
type Reader struct {
	br   *bufio.Reader
	opts ReaderOptions
	n    int    // octets read on the current line
	tag  string // tag of the command being read
	// pending is the literal whose header was read and whose octets were
	// not, while the Literal hook runs.
	pending *Literal
	// literals is the sum of the literal sizes of the current command.
	literals int64
}

// NewReader returns a Reader reading from br.
func NewReader(br *bufio.Reader, opts ReaderOptions) *Reader {
	if opts.MaxLine <= 0 {
		opts.MaxLine = DefaultMaxLine
	}
	if opts.MaxLiteral <= 0 {
		opts.MaxLiteral = DefaultMaxLiteral
	}
	if opts.MaxAppend <= 0 {
		opts.MaxAppend = DefaultMaxAppend
	}
	if opts.MaxCommand <= 0 {
		opts.MaxCommand = 2 * max(opts.MaxAppend, opts.MaxLiteral)
	}
	return &Reader{br: br, opts: opts}
}

// SetBuffer makes the Reader read from br from now on; the server gives
// its buffer back while a connection waits for input.
func (r *Reader) SetBuffer(br *bufio.Reader) { r.br = br }

// SetOptions changes the limits, e.g. after ENABLE or authentication.
func (r *Reader) SetOptions(opts ReaderOptions) { *r = *NewReader(r.br, opts) }

func (r *Reader) bad(format string, args ...any) *Error {
	e := errBad(format, args...)
	e.Tag = r.tag
	return e
}

func (r *Reader) readByte() (byte, error) {
	c, err := r.br.ReadByte()
	if err != nil {
		if err == io.EOF && r.n > 0 {
			err = io.ErrUnexpectedEOF
		}
		return 0, err
	}
	r.n++
	if r.n > r.opts.MaxLine {
		return 0, &LineTooLongError{Limit: r.opts.MaxLine, Tag: r.tag}
	}
	return c, nil
}

func (r *Reader) unreadByte() {
	_ = r.br.UnreadByte()
	r.n--
}

// peek returns the next octet without consuming it, or 0 at EOF.
func (r *Reader) peek() byte {
	b, err := r.br.Peek(1)
	if err != nil {
		return 0
	}
	return b[0]
}

// Expect reads exactly the octet c.
func (r *Reader) Expect(c byte) error {
	got, err := r.readByte()
	if err != nil {
		return err
	}
	if got != c {
		r.unreadByte()
		return r.bad("expected %q", c)
	}
	return nil
}

// SP reads one space (RFC 9051 §9 note 2: exactly one).
func (r *Reader) SP() error { return r.Expect(' ') }

// maybe consumes c if it is next.
func (r *Reader) maybe(c byte) bool {
	if r.peek() != c {
		return false
	}
	_, err := r.readByte()
	return err == nil
}

// CRLF reads the end of a command line. A bare LF is accepted, as Dovecot
// and most servers do for interactive use.
func (r *Reader) CRLF() error {
	c, err := r.readByte()
	if err != nil {
		return err
	}
	if c == '\r' {
		c, err = r.readByte()
		if err != nil {
			return err
		}
	}
	if c != '\n' {
		r.unreadByte()
		return r.bad("expected end of line")
	}
	r.n = 0
	return nil
}

// AtEOL reports whether the command line ends next.
func (r *Reader) AtEOL() bool {
	c := r.peek()
	return c == '\r' || c == '\n'
}

// chars reads 1*c where ok(c).
func (r *Reader) chars(ok func(byte) bool, what string) (string, error) {
	var buf []byte
	for {
		c, err := r.readByte()
		if err != nil {
			return "", err
		}
		if !ok(c) {
			r.unreadByte()
			break
		}
		buf = append(buf, c)
	}
	if len(buf) == 0 {
		return "", r.bad("expected %s", what)
	}
	return string(buf), nil
}

// Atom reads an atom (RFC 9051 §9).
func (r *Reader) Atom() (string, error) { return r.chars(isAtomChar, "atom") }

// Number reads a number (32-bit, RFC 9051 §9).
func (r *Reader) Number() (uint32, error) {
	n, err := r.number(32)
	return uint32(n), err
}

// NZNumber reads a non-zero number.
func (r *Reader) NZNumber() (uint32, error) {
	n, err := r.Number()
	if err == nil && n == 0 {
		return 0, r.bad("expected a non-zero number")
	}
	return n, err
}

// Number64 reads a number64 (0 ≤ n < 2^63, RFC 9051 §9).
func (r *Reader) Number64() (uint64, error) { return r.number(63) }

func (r *Reader) number(bits int) (uint64, error) {
	s, err := r.chars(isDigit, "number")
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(s, 10, bits)
	if err != nil {
		return 0, r.bad("number out of range")
	}
	return n, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// Quoted reads a quoted string: DQUOTE *QUOTED-CHAR DQUOTE, where only DQUOTE
// and "\" may be escaped. UTF-8 is accepted (RFC 9051 QUOTED-CHAR includes
// UTF8-2..4) but must be valid.
func (r *Reader) Quoted() (string, error) {
	if err := r.Expect('"'); err != nil {
		return "", err
	}
	var buf []byte
	eight := false
	for {
		c, err := r.readByte()
		if err != nil {
			return "", err
		}
		switch {
		case c == '"':
			if eight && !utf8.Valid(buf) {
				return "", r.bad("invalid UTF-8 in quoted string")
			}
			return string(buf), nil
		case c == '\\':
			c, err = r.readByte()
			if err != nil {
				return "", err
			}
			if c != '"' && c != '\\' {
				return "", r.bad("invalid escape in quoted string")
			}
		case c == 0 || c == '\r' || c == '\n':
			r.unreadByte()
			return "", r.bad("invalid character in quoted string")
		case c >= 0x80:
			eight = true
		}
		buf = append(buf, c)
	}
}

// literalHeader reads "{n}" / "{n+}" (and "~{n}" when binary is allowed)
// up to and including the CRLF, checks the limits and calls the Literal
// hook. The caller then reads exactly Size octets. LITERAL- (RFC 7888 §5)
// uses the same "{n+}" syntax as LITERAL+, only with a 4096-octet limit;
// there is no "{n-}".
func (r *Reader) literalHeader(binaryOK, appendMsg bool) (Literal, error) {
	var l Literal
	if binaryOK && r.maybe('~') {
		l.Binary = true
	}
	if err := r.Expect('{'); err != nil {
		return l, err
	}
	n, err := r.Number64()
	if err != nil {
		return l, err
	}
	l.Size = int64(n)
	l.NonSync = r.maybe('+')
	l.Append = appendMsg
	if err := r.Expect('}'); err != nil {
		return l, err
	}
	if err := r.CRLF(); err != nil {
		return l, err
	}
	limit := r.opts.MaxLiteral
	if appendMsg {
		limit = r.opts.MaxAppend
	}
	if l.NonSync && r.opts.LiteralMinus && limit > LiteralMinusMax {
		limit = LiteralMinusMax
	}
	r.pending = &l
	if r.literals += l.Size; r.literals > r.opts.MaxCommand && l.Size <= limit {
		return l, &LiteralTooLargeError{Size: r.literals, Limit: r.opts.MaxCommand, NonSync: l.NonSync, Append: appendMsg, Tag: r.tag}
	}
	if l.Size > limit {
		return l, &LiteralTooLargeError{Size: l.Size, Limit: limit, NonSync: l.NonSync, Append: appendMsg, Tag: r.tag}
	}
	if r.opts.Literal != nil {
		if err := r.opts.Literal(l); err != nil {
			var pe *Error
			if errors.As(err, &pe) && pe.Tag == "" {
				pe.Tag = r.tag
			}
			return l, err
		}
	}
	return l, nil
}

// literalBytes reads a literal announced by literalHeader. The buffer
// grows as octets arrive, so announcing a large literal and sending
// nothing costs no memory.
func (r *Reader) literalBytes(l Literal) ([]byte, error) {
	r.pending = nil
	buf := bytes.NewBuffer(make([]byte, 0, min(l.Size, 64*1024)))
	if _, err := io.CopyN(buf, r.br, l.Size); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	r.n = 0
	return buf.Bytes(), nil
}

// literalString reads a literal (not literal8) as a string argument.
func (r *Reader) literalString() (string, error) {
	l, err := r.literalHeader(false, false)
	if err != nil {
		return "", err
	}
	b, err := r.literalBytes(l)
	if err != nil {
		return "", err
	}
	for _, c := range b {
		if c == 0 {
			return "", r.bad("NUL in literal")
		}
	}
	return string(b), nil
}

// String reads a string: quoted or literal.
func (r *Reader) String() (string, error) {
	switch r.peek() {
	case '"':
		return r.Quoted()
	case '{':
		return r.literalString()
	}
	return "", r.bad("expected string")
}

// AString reads an astring: 1*ASTRING-CHAR or a string.
func (r *Reader) AString() (string, error) {
	switch r.peek() {
	case '"', '{':
		return r.String()
	}
	return r.chars(isAStringChar, "astring")
}

// NString reads an nstring; ok is false for NIL.
func (r *Reader) NString() (s string, ok bool, err error) {
	switch r.peek() {
	case '"', '{':
		s, err = r.String()
		return s, err == nil, err
	}
	a, err := r.Atom()
	if err != nil {
		return "", false, err
	}
	if !eqFold(a, "NIL") {
		return "", false, r.bad("expected nstring")
	}
	return "", false, nil
}

// Mailbox reads a mailbox name: "INBOX" in any case is returned as "INBOX"
// (RFC 9051 §9 mailbox); other names are returned as sent, still in
// modified UTF-7 for IMAP4rev1 clients (see DecodeMailbox).
func (r *Reader) Mailbox() (string, error) {
	s, err := r.AString()
	if err != nil {
		return "", err
	}
	if eqFold(s, "INBOX") {
		return "INBOX", nil
	}
	return s, nil
}

// ListMailbox reads list-mailbox = 1*list-char / string (RFC 9051 §9).
func (r *Reader) ListMailbox() (string, error) {
	switch r.peek() {
	case '"', '{':
		return r.String()
	}
	return r.chars(isListChar, "mailbox pattern")
}

// List reads "(" [item *(SP item)] ")", calling item for each element.
func (r *Reader) List(item func() error) error {
	if err := r.Expect('('); err != nil {
		return err
	}
	if r.maybe(')') {
		return nil
	}
	for {
		if err := item(); err != nil {
			return err
		}
		if r.maybe(')') {
			return nil
		}
		if err := r.SP(); err != nil {
			return err
		}
	}
}

// ReadLine reads one line without parsing it, as for AUTHENTICATE
// responses and IDLE's DONE, within the line limit.
func (r *Reader) ReadLine() (string, error) {
	var buf []byte
	for {
		c, err := r.readByte()
		if err != nil {
			return "", err
		}
		if c == '\n' {
			r.n = 0
			if len(buf) > 0 && buf[len(buf)-1] == '\r' {
				buf = buf[:len(buf)-1]
			}
			return string(buf), nil
		}
		buf = append(buf, c)
	}
}

// discardLine skips the rest of a line after a syntax error. A literal
// announced at the end of the line is skipped when it is non-synchronizing
// (its octets are coming) and within the literal limit; otherwise the
// error becomes fatal.
func (r *Reader) discardLine() error {
	var last []byte
	for {
		c, err := r.readByte()
		if err != nil {
			return err
		}
		if c != '\n' {
			last = append(last, c)
			if len(last) > 24 {
				last = last[1:]
			}
			continue
		}
		r.n = 0
		size, nonSync, ok := trailingLiteral(last)
		if !ok {
			return nil
		}
		if !nonSync {
			// The client waits for "+" which never comes; the next line
			// it sends is a new command.
			return nil
		}
		if size > r.opts.MaxLiteral && size > r.opts.MaxAppend {
			return errors.New("imap: literal after syntax error too large to skip")
		}
		if _, err := io.CopyN(io.Discard, r.br, size); err != nil {
			return err
		}
		last = last[:0]
	}
}

// trailingLiteral parses "{n}" or "{n+}" (with optional CR) at the end of b.
func trailingLiteral(b []byte) (size int64, nonSync, ok bool) {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	if len(b) < 3 || b[len(b)-1] != '}' {
		return 0, false, false
	}
	b = b[:len(b)-1]
	if b[len(b)-1] == '+' {
		nonSync = true
		b = b[:len(b)-1]
	}
	i := len(b)
	for i > 0 && isDigit(b[i-1]) {
		i--
	}
	if i == 0 || i == len(b) || b[i-1] != '{' {
		return 0, false, false
	}
	n, err := strconv.ParseInt(string(b[i:]), 10, 64)
	if err != nil {
		return 0, false, false
	}
	return n, nonSync, true
}
