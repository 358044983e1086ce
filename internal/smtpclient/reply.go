package smtpclient

import (
	"bufio"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/posthorn/posthorn/internal/smtp"
)

// Limits on what a server may send back.
const (
	maxReplyLine  = 4096 // RFC 5321 §4.5.3.1.5 says 512; be lenient
	maxReplyLines = 200
)

var errBadReply = errors.New("malformed reply")

// readReply reads one possibly multi-line reply (RFC 5321 §4.2). The
// lines of a multi-line reply are joined with "\n" in Text (without codes;
// the enhanced code is taken from the first line, RFC 2034 §4).
func readReply(r *bufio.Reader) (*smtp.Reply, []string, error) {
	var lines []string
	code := 0
	for {
		line, err := readLine(r)
		if err != nil {
			return nil, nil, err
		}
		if len(line) < 3 || (len(line) > 3 && line[3] != ' ' && line[3] != '-') {
			return nil, nil, fmt.Errorf("%w: %q", errBadReply, truncate(line, 80))
		}
		c, err := strconv.Atoi(line[:3])
		if err != nil || c < 200 || c > 599 {
			return nil, nil, fmt.Errorf("%w: %q", errBadReply, truncate(line, 80))
		}
		if code == 0 {
			code = c
		} else if c != code {
			return nil, nil, fmt.Errorf("%w: code %d inside a %d reply", errBadReply, c, code)
		}
		text := ""
		if len(line) > 4 {
			// Control characters (a stray CR, say) become spaces: the
			// text goes into logs, the queue and notifications.
			text = strings.Map(func(r rune) rune {
				if r < ' ' || r == 0x7f {
					return ' '
				}
				return r
			}, line[4:])
		}
		lines = append(lines, text)
		if len(line) == 3 || line[3] == ' ' {
			break
		}
		if len(lines) >= maxReplyLines {
			return nil, nil, fmt.Errorf("%w: more than %d lines", errBadReply, maxReplyLines)
		}
	}
	rep := &smtp.Reply{Code: code}
	first := lines[0]
	if ec, rest, ok := parseEnhanced(first, code); ok {
		rep.Enhanced = ec
		first = rest
	}
	rep.Text = first
	for _, l := range lines[1:] {
		if rep.Enhanced != (smtp.EnhancedCode{}) {
			// RFC 2034 §4: every line repeats the enhanced code.
			if ec, rest, ok := parseEnhanced(l, code); ok && ec == rep.Enhanced {
				l = rest
			}
		}
		rep.Text += " " + l
	}
	return rep, lines, nil
}

// readLine reads one CRLF (or LF) terminated line without the ending.
func readLine(r *bufio.Reader) (string, error) {
	var b []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if err != nil {
			return "", err
		}
		b = append(b, chunk...)
		if len(b) > maxReplyLine {
			return "", fmt.Errorf("%w: line longer than %d bytes", errBadReply, maxReplyLine)
		}
		if !isPrefix {
			return string(b), nil
		}
	}
}

// parseEnhanced splits "5.1.1 text" into the RFC 3463 code and the text,
// when the code's class matches the reply code's first digit.
func parseEnhanced(s string, code int) (smtp.EnhancedCode, string, bool) {
	word, rest, _ := strings.Cut(s, " ")
	parts := strings.Split(word, ".")
	if len(parts) != 3 {
		return smtp.EnhancedCode{}, s, false
	}
	var ec smtp.EnhancedCode
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 999 || len(p) > 3 {
			return smtp.EnhancedCode{}, s, false
		}
		ec[i] = n
	}
	if ec[0] != code/100 {
		return smtp.EnhancedCode{}, s, false
	}
	return ec, rest, true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
