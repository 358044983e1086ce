package pop3server

import (
	"bufio"
	"errors"
	"strconv"
	"strings"
)

// command is one parsed client command (RFC 1939 §3): a keyword of three
// or four letters, case-insensitive, and arguments separated by spaces.
type command struct {
	name string   // upper case
	args []string // split at spaces
	rest string   // everything after the keyword and one space, as sent
}

var (
	errEmpty      = errors.New("empty command")
	errBadKeyword = errors.New("malformed command keyword")
	errBadChar    = errors.New("control character in command")
)

// parseCommand parses one command line without its line ending. The line
// must not contain NUL, CR or LF; other octets are allowed in arguments
// (a password may be UTF-8). rest keeps the argument text whole, for PASS,
// whose single argument may contain spaces (RFC 1939 §7).
func parseCommand(line string) (command, error) {
	if line == "" {
		return command{}, errEmpty
	}
	if strings.ContainsAny(line, "\x00\r\n") {
		return command{}, errBadChar
	}
	name, rest, _ := strings.Cut(line, " ")
	if len(name) < 3 || len(name) > 4 {
		return command{}, errBadKeyword
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return command{}, errBadKeyword
		}
	}
	return command{name: strings.ToUpper(name), args: strings.Fields(rest), rest: rest}, nil
}

// parseNumber parses a message number or line count: decimal digits only,
// no sign. Values above maxNumber become maxNumber (clients ask for "TOP n
// 4294967295" to mean the whole message).
func parseNumber(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > maxNumber {
		return maxNumber, true // only digits: the error is out of range
	}
	return n, true
}

// maxNumber caps message numbers and line counts.
const maxNumber = 1<<31 - 1

// Response codes of RFC 2449 §8 and RFC 3206.
const (
	codeNone     = ""
	codeInUse    = "IN-USE"
	codeSysTemp  = "SYS/TEMP"
	codeSysPerm  = "SYS/PERM"
	codeAuth     = "AUTH"
	codeLoginDly = "LOGIN-DELAY"
)

// reply is what a command handler returns; only the session loop writes
// it. A multi-line reply has lines (dot-stuffed by the writer) or a body
// function that streams its own dot-stuffed lines.
type reply struct {
	ok    bool
	code  string // response code, shown as "[CODE]"
	text  string
	multi bool // a multi-line reply: lines or body follow, then "."
	lines []string
	body  func(w *bufio.Writer) error
	// raw is written as is instead of a status line (SASL challenges).
	raw string
	// close ends the session after this reply.
	close bool
	// then runs after the reply is flushed (STLS); false ends the session.
	then func() bool
}

func okReply(text string) reply { return reply{ok: true, text: text} }

func errReply(code, text string) reply { return reply{code: code, text: text} }

// write puts the reply on w (not flushed).
func (r reply) write(w *bufio.Writer) error {
	if r.raw != "" {
		_, err := w.WriteString(r.raw)
		return err
	}
	if r.ok {
		w.WriteString("+OK")
	} else {
		w.WriteString("-ERR")
	}
	if r.code != "" {
		w.WriteString(" [" + r.code + "]")
	}
	if r.text != "" {
		w.WriteString(" " + r.text)
	}
	w.WriteString("\r\n")
	if !r.multi {
		return nil
	}
	for _, l := range r.lines {
		if strings.HasPrefix(l, ".") {
			w.WriteByte('.')
		}
		w.WriteString(l)
		w.WriteString("\r\n")
	}
	if r.body != nil {
		if err := r.body(w); err != nil {
			return err
		}
	}
	_, err := w.WriteString(".\r\n")
	return err
}
