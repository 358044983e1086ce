package message

import (
	"bytes"
)

// field is one header field of a header block.
type field struct {
	name       []byte // as written, without trailing white space
	start, end int    // the whole field, its final line break included
	value      int    // offset just after the colon
}

// scanHeader reads the header fields of raw[start:limit] up to the blank
// line that ends them. It returns the fields and the offset just past the
// blank line (the body's start), or limit when there is no blank line.
// When stop (if not nil) reports a line start as a boundary delimiter, the
// header ends there: the offset of that line is returned with stopped set.
// Lines without a colon, or with white space or controls in the name, are
// skipped (RFC 5322 §2.2 names are printable US-ASCII other than ":").
func scanHeader(raw []byte, start, limit int, fields []field, stop func(int) bool) ([]field, int, bool) {
	pos := start
	for pos < limit {
		if stop != nil && raw[pos] == '-' && stop(pos) {
			return fields, pos, true
		}
		eol := lineEnd(raw, pos, limit)
		line := raw[pos:eol]
		if isBlankLine(line) {
			return fields, eol, false
		}
		if (line[0] == ' ' || line[0] == '\t') && len(fields) > 0 && fields[len(fields)-1].end == pos {
			fields[len(fields)-1].end = eol // continuation line
			pos = eol
			continue
		}
		if c := bytes.IndexByte(line, ':'); c > 0 {
			name := bytes.TrimRight(line[:c], " \t")
			if validFieldName(name) {
				fields = append(fields, field{name: name, start: pos, end: eol, value: pos + c + 1})
			}
		}
		pos = eol
	}
	return fields, limit, false
}

// lineEnd returns the offset just past the LF ending the line at pos, or
// limit.
func lineEnd(raw []byte, pos, limit int) int {
	if i := bytes.IndexByte(raw[pos:limit], '\n'); i >= 0 {
		return pos + i + 1
	}
	return limit
}

func isBlankLine(line []byte) bool {
	return len(line) == 1 && line[0] == '\n' || len(line) == 2 && line[0] == '\r' && line[1] == '\n'
}

func validFieldName(name []byte) bool {
	if len(name) == 0 {
		return false
	}
	for _, c := range name {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// fieldValue returns a field's value unfolded (RFC 5322 §2.2.3): white
// space after the colon on the first line is dropped, line breaks are
// removed, trailing white space is trimmed. This is what Dovecot puts in
// ENVELOPE.
func fieldValue(raw []byte, f field) string {
	v := raw[f.value:f.end]
	i := 0
	for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
		i++
	}
	v = v[i:]
	if bytes.IndexByte(v, '\n') < 0 && bytes.IndexByte(v, '\r') < 0 {
		return string(bytes.TrimRight(v, " \t"))
	}
	out := make([]byte, 0, len(v))
	for _, c := range v {
		if c != '\r' && c != '\n' {
			out = append(out, c)
		}
	}
	return string(bytes.TrimRight(out, " \t"))
}

// header is a parsed header block.
type header struct {
	raw    []byte
	fields []field
}

// get returns the value of the first field called name (case-insensitive)
// and whether there was one.
func (h header) get(name string) (string, bool) {
	for _, f := range h.fields {
		if asciiEqualFold(f.name, name) {
			return fieldValue(h.raw, f), true
		}
	}
	return "", false
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// HeaderFields returns the fields of a header block whose names are in
// names (or, with not, are not), followed by the blank line: the contents
// of BODY[HEADER.FIELDS (...)] and BODY[HEADER.FIELDS.NOT (...)] (RFC 9051
// §6.4.5). Names compare case-insensitively; fields keep their order and
// their original bytes. As in Dovecot, lines that are not fields (no
// colon) count as not named, and the blank line is left out only when
// nothing was selected from a header that had none.
func HeaderFields(hdr []byte, names []string, not bool) []byte {
	var out []byte
	selected := false
	for pos := 0; pos < len(hdr); {
		eol := lineEnd(hdr, pos, len(hdr))
		line := hdr[pos:eol]
		if isBlankLine(line) {
			break
		}
		if line[0] != ' ' && line[0] != '\t' || pos == 0 {
			// A new field (or a line that is not one).
			named := false
			if c := bytes.IndexByte(line, ':'); c > 0 {
				if name := bytes.TrimRight(line[:c], " \t"); validFieldName(name) {
					for _, n := range names {
						if asciiEqualFold(name, n) {
							named = true
							break
						}
					}
				}
			}
			selected = named != not
		}
		if selected {
			out = append(out, line...)
			if line[len(line)-1] != '\n' {
				out = append(out, '\r', '\n')
			}
		}
		pos = eol
	}
	if len(out) == 0 && !endsWithBlankLine(hdr) {
		return out
	}
	return append(out, '\r', '\n')
}

func endsWithBlankLine(hdr []byte) bool {
	return bytes.Equal(hdr, []byte("\n")) || bytes.Equal(hdr, []byte("\r\n")) ||
		bytes.HasSuffix(hdr, []byte("\n\n")) || bytes.HasSuffix(hdr, []byte("\n\r\n"))
}
