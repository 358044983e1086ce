package tlspolicy

import (
	"bytes"
	"strings"
)

// TLSOptional reports whether the header section of msg has the field
// "TLS-Required: No" (RFC 8689 §5: the sender asks that recipient TLS
// policies be ignored for this message). The field is only believed
// without REQUIRETLS (§4.1), which Host enforces. Field names are
// case-insensitive; the value "No" is matched case-insensitively, with
// whitespace and folding ignored.
func TLSOptional(msg []byte) bool {
	end := bytes.Index(msg, []byte("\r\n\r\n"))
	if end < 0 {
		end = len(msg)
	}
	header := msg[:end]
	const name = "tls-required:"
	for len(header) > 0 {
		line := header
		if i := bytes.Index(header, []byte("\r\n")); i >= 0 {
			line, header = header[:i], header[i+2:]
		} else {
			header = nil
		}
		if len(line) < len(name) || !strings.EqualFold(string(line[:len(name)]), name) {
			continue
		}
		value := string(line[len(name):])
		// Unfold continuation lines (RFC 5322 §2.2.3).
		for len(header) > 0 && (header[0] == ' ' || header[0] == '\t') {
			next := header
			if i := bytes.Index(header, []byte("\r\n")); i >= 0 {
				next, header = header[:i], header[i+2:]
			} else {
				header = nil
			}
			value += string(next)
		}
		if strings.EqualFold(strings.TrimSpace(value), "no") {
			return true
		}
	}
	return false
}
