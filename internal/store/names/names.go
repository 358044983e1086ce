// Package names checks the names a store backend is given (addresses,
// domains, app-password and mailbox names, special uses), the same way
// in every backend, and the whole requests built on them (requests.go:
// checks and defaults of CreateMailbox, DeleteMailbox, AddAlias,
// AddAppPassword, Enqueue, AddSuppression). Addresses arrive canonical;
// they are only checked for shape, never re-parsed. It is a package of
// its own because it builds on store's types and errors.
package names

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/posthorn/posthorn/internal/store"
)

// SplitAddress returns the domain of local@domain. The local part may be
// empty only when allowEmptyLocal (the catch-all alias "@domain").
func SplitAddress(addr string, allowEmptyLocal bool) (string, error) {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 || i == len(addr)-1 || (i == 0 && !allowEmptyLocal) || strings.ContainsAny(addr, " \t\r\n\x00") {
		return "", fmt.Errorf("address %q: %w", addr, store.ErrInvalid)
	}
	return addr[i+1:], nil
}

// CheckDomain checks a domain name's shape.
func CheckDomain(name string) error {
	if name == "" || strings.ContainsAny(name, "@ \t\r\n\x00") {
		return fmt.Errorf("domain %q: %w", name, store.ErrInvalid)
	}
	return nil
}

// CheckAppPassword checks an app password's name.
func CheckAppPassword(name string) error {
	if name == "" || len(name) > 64 || strings.ContainsAny(name, "\t\r\n\x00") {
		return fmt.Errorf("app password name %q: %w", name, store.ErrInvalid)
	}
	return nil
}

// Mailbox checks a mailbox name and canonicalises INBOX, which is
// case-insensitive (RFC 3501 §5.1).
func Mailbox(name string) (string, error) {
	if strings.EqualFold(name, store.Inbox) {
		return store.Inbox, nil
	}
	d := store.Delimiter
	if name == "" || !utf8.ValidString(name) || strings.HasPrefix(name, d) || strings.HasSuffix(name, d) ||
		strings.Contains(name, d+d) || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return "", fmt.Errorf("mailbox name %q: %w", name, store.ErrInvalid)
	}
	return name, nil
}

// CheckSpecialUse accepts the special uses posthorn knows, and none.
func CheckSpecialUse(use store.SpecialUse) error {
	switch use {
	case store.UseNone, store.UseSent, store.UseDrafts, store.UseTrash, store.UseJunk, store.UseArchive:
		return nil
	}
	return fmt.Errorf("special use %q: %w", use, store.ErrInvalid)
}

// Rename checks the names of a mailbox rename (store.Mail.RenameMailbox):
// INBOX cannot be renamed here (ErrInvalid) nor be the new name
// (ErrExists), and a mailbox cannot move below itself.
func Rename(from, to string) (string, string, error) {
	from, err := Mailbox(from)
	if err != nil {
		return "", "", err
	}
	to, err = Mailbox(to)
	if err != nil {
		return "", "", err
	}
	if from == store.Inbox {
		return "", "", fmt.Errorf("rename INBOX: %w", store.ErrInvalid)
	}
	if to == store.Inbox {
		return "", "", fmt.Errorf("rename to INBOX: %w", store.ErrExists)
	}
	if to == from || strings.HasPrefix(to, from+store.Delimiter) {
		return "", "", fmt.Errorf("rename %s to %s: %w", from, to, store.ErrInvalid)
	}
	return from, to, nil
}

// Target is the mailbox name a delivery target asks for: INBOX when
// empty, canonical when valid. An invalid name is kept as is: it cannot
// exist, so the delivery falls back to INBOX.
func Target(name string) string {
	if name == "" {
		return store.Inbox
	}
	if n, err := Mailbox(name); err == nil {
		return n
	}
	return name
}
