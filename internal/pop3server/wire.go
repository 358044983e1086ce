package pop3server

import (
	"bufio"
	"bytes"
)

// Message text on the wire (RFC 1939 §3): lines end in CRLF, a line that
// starts with "." gets one more "." in front, and "." CRLF ends the
// multi-line reply. Sizes in STAT, LIST and the RETR reply count the
// message in this CRLF form, without the added dots and the final line,
// so they equal the octets a client has after undoing the dot-stuffing.
//
// Stored bodies are already in CRLF form. A body that is not (a bare LF
// or CR at the end of a line, or no line ending at the end) is sent line
// by line with every line ending made CRLF, and its size counted the same
// way, so the two always agree.

// crlfClean reports whether b is empty or ends in CRLF and every LF in it
// follows a CR: then it goes on the wire as it is, apart from dots.
func crlfClean(b []byte) bool {
	n := len(b)
	if n == 0 {
		return true
	}
	if n < 2 || b[n-2] != '\r' || b[n-1] != '\n' {
		return false
	}
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return true
		}
		i += j
		if i == 0 || b[i-1] != '\r' {
			return false
		}
		i++
	}
}

// forEachLine calls f with each line of b, without its LF and without one
// CR before it, until f returns false. A last line without LF counts.
func forEachLine(b []byte, f func(line []byte) bool) {
	for len(b) > 0 {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if !f(line) {
			return
		}
	}
}

// wireSize is the size of body on the wire, dot-stuffing excluded.
func wireSize(body []byte) int64 {
	if crlfClean(body) {
		return int64(len(body))
	}
	var n int64
	forEachLine(body, func(line []byte) bool {
		n += int64(len(line)) + 2
		return true
	})
	return n
}

var lfDot = []byte("\n.")

// writeMessage writes body dot-stuffed (RETR). A clean body goes out in
// large pieces between the lines that need a dot, with no copy of it.
func writeMessage(w *bufio.Writer, body []byte) error {
	if !crlfClean(body) {
		return writeLines(w, body, -1)
	}
	if len(body) > 0 && body[0] == '.' {
		w.WriteByte('.')
	}
	for {
		i := bytes.Index(body, lfDot)
		if i < 0 {
			_, err := w.Write(body)
			return err
		}
		w.Write(body[:i+1])
		w.WriteByte('.')
		body = body[i+1:]
	}
}

// writeLines writes body line by line, dot-stuffed, with CRLF line
// endings: the header section, the empty line after it, and at most
// bodyLines lines of the body, or all of them when bodyLines < 0 (TOP,
// RFC 1939 §7).
func writeLines(w *bufio.Writer, body []byte, bodyLines int) error {
	inHeader, n := true, 0
	forEachLine(body, func(line []byte) bool {
		if !inHeader {
			if bodyLines >= 0 && n >= bodyLines {
				return false
			}
			n++
		}
		if len(line) > 0 && line[0] == '.' {
			w.WriteByte('.')
		}
		w.Write(line)
		w.WriteString("\r\n")
		if inHeader && len(line) == 0 {
			inHeader = false
		}
		return true
	})
	_, err := w.Write(nil)
	return err
}
