package smtpclient

import (
	"bufio"
	"bytes"
)

// writeData writes body as SMTP message data (RFC 5321 §4.5.2): a dot at
// the start of a line is doubled, the text ends with CRLF (added when
// missing) and then ".\r\n". The body's line endings are sent as they
// are: the queue holds CRLF text, since both receiving roles refuse bare
// CR and LF.
func writeData(w *bufio.Writer, body []byte) error {
	atLineStart := true
	for len(body) > 0 {
		if atLineStart && body[0] == '.' {
			w.WriteByte('.')
		}
		i := bytes.IndexByte(body, '\n')
		if i < 0 {
			w.Write(body)
			atLineStart = false
			break
		}
		w.Write(body[:i+1])
		body = body[i+1:]
		atLineStart = true
	}
	if !atLineStart {
		w.WriteString("\r\n")
	}
	_, err := w.WriteString(".\r\n")
	return err
}

// is8Bit reports whether body has bytes above 127 (RFC 6152).
func is8Bit(body []byte) bool {
	for _, c := range body {
		if c >= 0x80 {
			return true
		}
	}
	return false
}
