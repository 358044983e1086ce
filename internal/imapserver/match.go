package imapserver

import (
	"strings"

	"github.com/posthorn/posthorn/internal/store"
)

// LIST patterns (RFC 9051 §6.3.9): "*" matches anything, "%" anything but
// the hierarchy delimiter. The INBOX part of a name matches
// case-insensitively.

// maxPatternLength caps a LIST pattern; the matcher's work grows with the
// product of pattern and name length.
const maxPatternLength = 512

// pattern is a compiled LIST pattern.
type pattern struct {
	p []byte // runs of wildcards collapsed
}

func compilePattern(s string) pattern {
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c == '*' || c == '%') && len(b) > 0 {
			if last := b[len(b)-1]; last == '*' || last == '%' {
				if c == '*' {
					b[len(b)-1] = '*' // "%*" and "**" are "*"; "*%" stays "*"
				}
				continue
			}
		}
		b = append(b, c)
	}
	return pattern{p: b}
}

// match reports whether name matches, by dynamic programming over the
// pattern (no exponential backtracking on "*%*%...").
func (pt pattern) match(name string) bool {
	inboxLen := 0
	if name == store.Inbox || strings.HasPrefix(name, store.Inbox+store.Delimiter) {
		inboxLen = len(store.Inbox)
	}
	// cur[j]: pattern prefix matches name[:j].
	n := len(name)
	cur := make([]bool, n+1)
	next := make([]bool, n+1)
	cur[0] = true
	for _, c := range pt.p {
		switch c {
		case '*':
			seen := false
			for j := 0; j <= n; j++ {
				seen = seen || cur[j]
				next[j] = seen
			}
		case '%':
			seen := false
			for j := 0; j <= n; j++ {
				if j > 0 && name[j-1] == store.Delimiter[0] {
					seen = false
				}
				seen = seen || cur[j]
				next[j] = seen
			}
		default:
			next[0] = false
			for j := 1; j <= n; j++ {
				nc := name[j-1]
				eq := nc == c
				if !eq && j <= inboxLen {
					eq = upperASCII(nc) == upperASCII(c)
				}
				next[j] = cur[j-1] && eq
			}
		}
		cur, next = next, cur
	}
	return cur[n]
}

func upperASCII(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}
