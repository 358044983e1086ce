package postgres

import (
	"strconv"
	"testing"
)

// FuzzParsePayload: notification payloads from the channel (anyone with
// access to the database can NOTIFY on it) never crash the listener, and
// what parses round-trips.
func FuzzParsePayload(f *testing.F) {
	for _, s := range []string{"1 2", "12 0", "0 7", "", " ", "1", "x y", "-1 -2", "9223372036854775807 1", "1 2 3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, m, err := parsePayload(s)
		if err != nil {
			return
		}
		if got := strconv.FormatInt(a, 10) + " " + strconv.FormatInt(m, 10); got != s {
			// Leading '+' or zeros parse too; they must at least
			// parse to the same numbers again.
			a2, m2, err := parsePayload(got)
			if err != nil || a2 != a || m2 != m {
				t.Errorf("parsePayload(%q) = %d, %d; its rendering %q gives %d, %d, %v", s, a, m, got, a2, m2, err)
			}
		}
	})
}
