package store

import "strings"

// ValidText is s as every backend can store it: invalid UTF-8 and NUL
// bytes, which PostgreSQL's text type refuses, become U+FFFD. Backends
// apply it to text that comes from outside unchecked, such as a remote
// server's reply (often Latin-1), a webhook receiver's error or a
// suppression reason given through the API.
func ValidText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
