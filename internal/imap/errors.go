package imap

import (
	"errors"
	"fmt"
)

// Status is the condition of a status response (RFC 9051 §7.1).
type Status string

// Status conditions.
const (
	OK      Status = "OK"
	NO      Status = "NO"
	BAD     Status = "BAD"
	PREAUTH Status = "PREAUTH"
	BYE     Status = "BYE"
)

// Error is a protocol error the server answers with a status response. It
// carries the client-safe text only: nothing from configuration.
//
// Status is BAD for syntax errors (RFC 9051 §7.1.3) and NO for well-formed
// commands that cannot be carried out (for example a literal larger than
// APPENDLIMIT, RFC 7889: NO [TOOBIG]).
//
// When Fatal is set the command stream is out of sync (a line beyond the
// limit, a non-synchronizing literal that was not read): the server answers
// and then closes the connection. Otherwise the reader has consumed the rest
// of the command line and the next ReadCommand starts on a fresh command.
type Error struct {
	Status Status
	Code   string // response code without brackets, e.g. "TOOBIG"; "" for none
	Text   string
	Tag    string // the command's tag, "" when it was not read yet
	Fatal  bool
}

func (e *Error) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("imap: %s [%s] %s", e.Status, e.Code, e.Text)
	}
	return fmt.Sprintf("imap: %s %s", e.Status, e.Text)
}

func errBad(format string, args ...any) *Error {
	return &Error{Status: BAD, Text: fmt.Sprintf(format, args...)}
}

// LineTooLongError is returned when a command line exceeds
// ReaderOptions.MaxLine octets (literal contents are not counted). It is
// always fatal: the rest of the line was not read.
type LineTooLongError struct {
	Limit int
	Tag   string
}

func (e *LineTooLongError) Error() string {
	return fmt.Sprintf("imap: command line longer than %d octets", e.Limit)
}

// Protocol returns the status response for the error.
func (e *LineTooLongError) Protocol() *Error {
	return &Error{Status: BAD, Code: "TOOBIG", Text: "command line too long", Tag: e.Tag, Fatal: true}
}

// LiteralTooLargeError is returned when a literal exceeds the applicable
// limit (ReaderOptions.MaxLiteral, MaxAppend, MaxCommand for the sum of a
// command's literals, or 4096 octets for a non-synchronizing literal under
// LITERAL-, RFC 7888 §4).
type LiteralTooLargeError struct {
	Size, Limit int64
	NonSync     bool
	Append      bool
	Tag         string
}

func (e *LiteralTooLargeError) Error() string {
	return fmt.Sprintf("imap: literal of %d octets exceeds the limit of %d", e.Size, e.Limit)
}

// Protocol returns the status response for the error: NO [TOOBIG] for an
// APPEND message whose synchronizing literal was not sent yet (RFC 7889 §4),
// otherwise BAD [TOOBIG]. A non-synchronizing literal is already on its way,
// so that case is fatal (RFC 7888 §4: the server may close the connection).
func (e *LiteralTooLargeError) Protocol() *Error {
	st := BAD
	if e.Append && !e.NonSync {
		st = NO
	}
	return &Error{Status: st, Code: "TOOBIG", Text: "literal too large", Tag: e.Tag, Fatal: e.NonSync}
}

// AsError converts any error from this package's reader into the status
// response to send. It returns nil for I/O errors (io.EOF, network errors),
// after which the connection is gone anyway.
func AsError(err error) *Error {
	var e *Error
	var ll *LineTooLongError
	var lt *LiteralTooLargeError
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &ll):
		return ll.Protocol()
	case errors.As(err, &lt):
		return lt.Protocol()
	}
	return nil
}
