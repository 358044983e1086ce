package config

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Error is one problem in a configuration file.
type Error struct {
	File string // the file as named to Load or Parse; "" from Validate
	Line int    // 1-based; 0 when the key is not in the file
	Key  string // key path such as "listeners[1].address" (indexes from 0); "" when Msg names it
	Msg  string
	Hint string // how to fix it; may be ""
}

// Error formats e as "file:line: key: msg (hint: hint)", leaving out the
// parts that are empty.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	if e.Hint != "" {
		b.WriteString(" (hint: " + e.Hint + ")")
	}
	return b.String()
}

// ErrorList is every problem found in a file, one per line when printed.
// Load, Parse and Validate return one (as error) when anything is wrong.
type ErrorList []*Error

// Error joins the errors with newlines.
func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap gives errors.As and errors.Is access to each *Error.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// err returns l as an error, nil when empty.
func (l ErrorList) err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// sortByLine orders l by line, keeping the order of equal lines; errors
// without a line go last.
func (l ErrorList) sortByLine() {
	key := func(e *Error) int {
		if e.Line == 0 {
			return int(^uint(0) >> 1)
		}
		return e.Line
	}
	slices.SortStableFunc(l, func(a, b *Error) int { return cmp.Compare(key(a), key(b)) })
}
