package imap

// CanonicalFlag returns a system flag in its canonical case (`\seen` →
// `\Seen`); other flags are returned unchanged (keywords keep their case;
// they compare case-insensitively, RFC 9051 §2.3.2).
func CanonicalFlag(f string) string {
	// The system flags of RFC 9051 §2.3.2, and \Recent of RFC 3501.
	for _, sf := range [...]string{`\Answered`, `\Flagged`, `\Deleted`, `\Seen`, `\Draft`, `\Recent`} {
		if eqFold(f, sf) {
			return sf
		}
	}
	return f
}

// Flag reads a flag: "\" atom (a system flag or flag-extension) or a
// flag-keyword atom (RFC 9051 §9 flag). System flags are canonicalised.
func (r *Reader) Flag() (string, error) {
	if r.maybe('\\') {
		a, err := r.Atom()
		if err != nil {
			return "", err
		}
		return CanonicalFlag(`\` + a), nil
	}
	return r.Atom()
}

// FlagList reads "(" [flag *(SP flag)] ")".
func (r *Reader) FlagList() ([]string, error) {
	flags := []string{}
	err := r.List(func() error {
		f, err := r.Flag()
		flags = append(flags, f)
		return err
	})
	return flags, err
}

// appendFlagList appends "(" flags ")".
func appendFlagList(b []byte, flags []string) []byte {
	b = append(b, '(')
	for i, f := range flags {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, f...)
	}
	return append(b, ')')
}
