package dkim

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxHeaderBytes bounds the header we read into memory.
const maxHeaderBytes = 1 << 20

// field is one header field.
type field struct {
	name  string // as written, surrounding space trimmed
	value string // after the colon, folding kept, surrounding space trimmed
}

// readHeader reads the message header up to and including the empty line
// and returns its bytes and fields. Lines are split the way go-msgauth's
// verifier splits them (a line starting with space or tab continues the
// previous field; LF or CRLF ends a line), so both see the same
// DKIM-Signature fields in the same order.
func readHeader(br *bufio.Reader) ([]byte, []field, error) {
	var raw bytes.Buffer
	var fields []field
	var cur *strings.Builder
	flush := func() {
		if cur == nil {
			return
		}
		name, value, _ := strings.Cut(cur.String(), ":")
		fields = append(fields, field{name: strings.TrimSpace(name), value: strings.TrimSpace(value)})
		cur = nil
	}
	for {
		line, err := br.ReadBytes('\n')
		raw.Write(line)
		if raw.Len() > maxHeaderBytes {
			return nil, nil, errors.New("dkim: message header too large")
		}
		if err != nil && err != io.EOF {
			return nil, nil, fmt.Errorf("dkim: reading message: %w", err)
		}
		text := strings.TrimSuffix(strings.TrimSuffix(string(line), "\n"), "\r")
		if text == "" && (len(line) > 0 || err == io.EOF) {
			flush()
			return raw.Bytes(), fields, nil
		}
		if cur != nil && (text[0] == ' ' || text[0] == '\t') {
			cur.WriteString(text + "\r\n")
		} else {
			flush()
			cur = new(strings.Builder)
			cur.WriteString(text + "\r\n")
		}
		if err == io.EOF {
			flush()
			return raw.Bytes(), fields, nil
		}
	}
}
