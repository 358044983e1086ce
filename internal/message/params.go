package message

import (
	"sort"
	"strconv"
	"strings"
)

// Param is one MIME parameter, name and value as written (quotes and
// escapes removed).
type Param struct {
	Name  string
	Value string
}

// isTokenChar reports RFC 2045 token characters: CHAR other than SPACE,
// CTLs and tspecials. 8-bit octets are accepted for robustness.
func isTokenChar(c byte) bool {
	if c <= ' ' || c == 0x7f {
		return false
	}
	return !strings.ContainsRune(`()<>@,;:\"/[]?=`, rune(c))
}

// lexer walks a structured header value, skipping CFWS (RFC 5322 §3.2.2).
type lexer struct {
	s string
	i int
	// comment is the text of the last comment skipped, for addresses of
	// the old form "user@host (Full Name)".
	comment string
}

func (l *lexer) skipCFWS() {
	for l.i < len(l.s) {
		switch c := l.s[l.i]; {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			l.i++
		case c == '(':
			start := l.i
			depth := 0
			for l.i < len(l.s) {
				switch l.s[l.i] {
				case '\\':
					l.i++
				case '(':
					depth++
				case ')':
					depth--
				}
				l.i++
				if depth == 0 {
					break
				}
			}
			l.i = min(l.i, len(l.s)) // a "\" ending an unclosed comment
			l.comment = strings.TrimSuffix(l.s[start+1:l.i], ")")
		default:
			return
		}
	}
}

func (l *lexer) peek() byte {
	l.skipCFWS()
	if l.i < len(l.s) {
		return l.s[l.i]
	}
	return 0
}

func (l *lexer) token() string {
	l.skipCFWS()
	start := l.i
	for l.i < len(l.s) && isTokenChar(l.s[l.i]) {
		l.i++
	}
	return l.s[start:l.i]
}

// quoted reads a quoted-string at l.i (the DQUOTE is next), unescaping
// quoted-pairs. An unterminated string runs to the end.
func (l *lexer) quoted() string {
	l.i++
	var b strings.Builder
	for l.i < len(l.s) {
		c := l.s[l.i]
		l.i++
		switch c {
		case '"':
			return b.String()
		case '\\':
			if l.i < len(l.s) {
				b.WriteByte(l.s[l.i])
				l.i++
			}
		case '\r', '\n':
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// skipTo moves to the next c outside quoted strings, or to the end.
func (l *lexer) skipTo(c byte) {
	for l.i < len(l.s) && l.s[l.i] != c {
		if l.s[l.i] == '"' {
			l.quoted()
			continue
		}
		l.i++
	}
}

// parseMediaType parses a Content-Type value (RFC 2045 §5.1). ok is false
// when there is no valid type/subtype.
func parseMediaType(v string) (typ, sub string, params []Param, ok bool) {
	l := &lexer{s: v}
	typ = l.token()
	if typ == "" || l.peek() != '/' {
		return "", "", nil, false
	}
	l.i++
	sub = l.token()
	if sub == "" {
		return "", "", nil, false
	}
	return typ, sub, parseParams(l), true
}

// parseDisposition parses a Content-Disposition value (RFC 2183).
func parseDisposition(v string) (string, []Param) {
	l := &lexer{s: v}
	d := l.token()
	if d == "" {
		return "", nil
	}
	return d, parseParams(l)
}

// parseParams reads *(";" attribute "=" value); malformed parameters are
// skipped. RFC 2231 continuations are then joined.
func parseParams(l *lexer) []Param {
	var params []Param
	for {
		switch l.peek() {
		case 0:
			return joinContinuations(params)
		case ';':
			l.i++
		default:
			l.skipTo(';')
			continue
		}
		name := l.token()
		if name == "" || l.peek() != '=' {
			l.skipTo(';')
			continue
		}
		l.i++
		var val string
		if l.peek() == '"' {
			val = l.quoted()
		} else {
			val = l.token()
		}
		dup := false
		for _, p := range params {
			if strings.EqualFold(p.Name, name) {
				dup = true
			}
		}
		if !dup {
			params = append(params, Param{Name: name, Value: val})
		}
	}
}

// joinContinuations joins RFC 2231 §3 segments name*0, name*1*, ... into
// one parameter, called name* when the segments are extended (charset and
// percent-encoding kept for the client to decode), placed where segment 0
// was. Without a segment 0 the parameters are left alone.
func joinContinuations(params []Param) []Param {
	type seg struct {
		n     int
		ext   bool
		value string
	}
	var groups map[string][]seg
	for _, p := range params {
		base, n, ext, ok := splitSection(p.Name)
		if !ok {
			continue
		}
		if groups == nil {
			groups = map[string][]seg{}
		}
		k := strings.ToLower(base)
		groups[k] = append(groups[k], seg{n, ext, p.Value})
	}
	if groups == nil {
		return params
	}
	out := params[:0:0]
	for _, p := range params {
		base, n, _, ok := splitSection(p.Name)
		if !ok {
			out = append(out, p)
			continue
		}
		segs := groups[strings.ToLower(base)]
		if n != 0 {
			continue
		}
		sort.SliceStable(segs, func(i, j int) bool { return segs[i].n < segs[j].n })
		var b strings.Builder
		ext := false
		for i, s := range segs {
			if s.n != i {
				break // a gap ends the value
			}
			b.WriteString(s.value)
			ext = ext || s.ext
		}
		name := base
		if ext {
			name += "*"
		}
		out = append(out, Param{Name: name, Value: b.String()})
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// splitSection splits "name*3" or "name*3*" into its parts.
func splitSection(name string) (base string, n int, ext, ok bool) {
	s := name
	if strings.HasSuffix(s, "*") {
		ext = true
		s = s[:len(s)-1]
	}
	i := strings.LastIndexByte(s, '*')
	if i <= 0 || i == len(s)-1 {
		return "", 0, false, false
	}
	n, err := strconv.Atoi(s[i+1:])
	if err != nil || n < 0 || n > 999 || (len(s[i+1:]) > 1 && s[i+1] == '0') {
		return "", 0, false, false
	}
	return s[:i], n, ext, true
}

// parseLanguage splits a Content-Language value (RFC 3282) into tags.
func parseLanguage(v string) []string {
	l := &lexer{s: v}
	var tags []string
	for {
		switch l.peek() {
		case 0:
			return tags
		case ',':
			l.i++
			continue
		}
		t := l.token()
		if t == "" {
			l.i++
			continue
		}
		tags = append(tags, t)
	}
}
