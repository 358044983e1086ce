package smtp

import (
	"strings"
	"testing"
)

// FuzzParseAddress checks round trips: whatever ParseAddress accepts,
// String() gives back a form that parses to the same Address, the
// unquoted form (as SMTP engines pass it on) parses to the same Address
// with ParseUnquotedAddress, and Canonical() parses too.
func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{
		"alice@example.com",
		"Alice.Smith+tag@Example.COM",
		`"john doe"@example.com`,
		`"a\"b\\c"@example.com`,
		"jöran@exämple.test",
		"user@xn--exmple-cua.test",
		"a@b.",
		"@example.com",
		"a@[192.0.2.1]",
		`""@x.test`,
		"a..b@x.test",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddress(s)
		if err != nil {
			return
		}
		out := a.String()
		b, err := ParseAddress(out)
		if err != nil {
			t.Fatalf("ParseAddress(%q) = %+v, but its String %q does not parse: %v", s, a, out, err)
		}
		if a != b {
			t.Fatalf("round trip of %q: %+v -> %q -> %+v", s, a, out, b)
		}
		u, err := ParseUnquotedAddress(a.Local + "@" + a.Domain)
		if err != nil {
			t.Fatalf("ParseUnquotedAddress(%q): %v", a.Local+"@"+a.Domain, err)
		}
		if u != a {
			t.Fatalf("unquoted round trip of %q: %+v, want %+v", s, u, a)
		}
		c, err := ParseAddress(a.Canonical())
		if err != nil {
			t.Fatalf("Canonical %q of %q does not parse: %v", a.Canonical(), s, err)
		}
		if c.Local != strings.ToLower(a.Local) || c.Domain != a.Domain {
			t.Fatalf("Canonical of %+v parses to %+v", a, c)
		}
	})
}
