package arc

import (
	"bytes"
	"errors"
	"strings"
)

// splitHeader splits msg into its header fields and the body (after the
// blank line; nil when there is none).
func splitHeader(msg []byte) ([]field, []byte) {
	var fields []field
	pos := 0
	for pos < len(msg) {
		if bytes.HasPrefix(msg[pos:], []byte("\r\n")) {
			return fields, msg[pos+2:]
		}
		end := pos
		for {
			nl := bytes.IndexByte(msg[end:], '\n')
			if nl < 0 {
				end = len(msg)
				break
			}
			end += nl + 1
			if end >= len(msg) || (msg[end] != ' ' && msg[end] != '\t') {
				break
			}
		}
		raw := msg[pos:end]
		if colon := bytes.IndexByte(raw, ':'); colon > 0 {
			fields = append(fields, field{name: strings.TrimRight(string(raw[:colon]), " \t"), raw: raw})
		}
		pos = end
	}
	return fields, nil
}

// canonModes reads c= ("header/body", RFC 6376 §3.5); default
// simple/simple.
func canonModes(c string) (string, string, error) {
	c = strings.ToLower(stripWS(c))
	if c == "" {
		return "simple", "simple", nil
	}
	h, b, ok := strings.Cut(c, "/")
	if !ok {
		b = "simple"
	}
	for _, m := range []string{h, b} {
		if m != "simple" && m != "relaxed" {
			return "", "", errors.New("bad c=")
		}
	}
	return h, b, nil
}

// canonHeader canonicalizes one field (RFC 6376 §3.4.1, §3.4.2).
func canonHeader(raw []byte, mode string) []byte {
	if mode == "simple" {
		return raw
	}
	colon := bytes.IndexByte(raw, ':')
	name := strings.ToLower(strings.TrimRight(string(raw[:colon]), " \t"))
	v := string(raw[colon+1:])
	v = strings.ReplaceAll(v, "\r\n", "")
	v = strings.ReplaceAll(v, "\n", "")
	v = collapseWS(v)
	return []byte(name + ":" + strings.TrimSpace(v) + "\r\n")
}

// canonBody canonicalizes the body (RFC 6376 §3.4.3, §3.4.4).
func canonBody(body []byte, mode string) []byte {
	lines := strings.SplitAfter(string(body), "\r\n")
	var b strings.Builder
	for _, l := range lines {
		if l == "" {
			continue
		}
		if mode == "relaxed" {
			text := strings.TrimSuffix(l, "\r\n")
			text = strings.TrimRight(collapseWS(text), " ")
			if strings.HasSuffix(l, "\r\n") {
				text += "\r\n"
			}
			l = text
		}
		b.WriteString(l)
	}
	s := b.String()
	if s != "" && !strings.HasSuffix(s, "\r\n") {
		s += "\r\n"
	}
	for strings.HasSuffix(s, "\r\n\r\n") {
		s = s[:len(s)-2]
	}
	if s == "\r\n" && mode == "relaxed" {
		s = ""
	}
	if s == "" && mode == "simple" {
		s = "\r\n"
	}
	return []byte(s)
}

func collapseWS(s string) string {
	var b strings.Builder
	ws := false
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == ' ' || c == '\t' {
			ws = true
			continue
		}
		if ws {
			b.WriteByte(' ')
			ws = false
		}
		b.WriteByte(s[i])
	}
	if ws {
		b.WriteByte(' ')
	}
	return b.String()
}

// withoutB returns the field with the value of its b= tag removed (RFC 6376
// §3.7), everything else as it was.
func withoutB(raw []byte) []byte {
	s := string(raw)
	colon := strings.IndexByte(s, ':')
	pos := colon + 1
	for pos < len(s) {
		end := strings.IndexByte(s[pos:], ';')
		if end < 0 {
			end = len(s)
		} else {
			end += pos
		}
		part := s[pos:end]
		if name, _, ok := strings.Cut(part, "="); ok && stripWS(name) == "b" {
			eq := pos + strings.IndexByte(part, '=') + 1
			tail := ""
			if end == len(s) && strings.HasSuffix(part, "\r\n") {
				tail = "\r\n"
			}
			return []byte(s[:eq] + tail + s[end:])
		}
		pos = end + 1
	}
	return raw
}

// parseTags parses a tag-list (RFC 6376 §3.2); duplicate tags are an error.
func parseTags(s string) (map[string]string, error) {
	tags := map[string]string{}
	for part := range strings.SplitSeq(s, ";") {
		if stripWS(part) == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		if !ok {
			return nil, errors.New("tag without =")
		}
		name = stripWS(name)
		if _, dup := tags[name]; dup {
			return nil, errors.New("duplicate tag " + name)
		}
		tags[name] = strings.TrimSpace(strings.NewReplacer("\r\n", "").Replace(val))
	}
	return tags, nil
}

// stripWS removes all white space and line breaks.
func stripWS(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
}
