package mx

import (
	"strings"
	"testing"
)

// FuzzFromDomains: the From parser used for DMARC never panics, returns
// lower-case domains without duplicates, and finds a domain whenever the
// only From field holds one plain address.
func FuzzFromDomains(f *testing.F) {
	f.Add([]byte("From: A <a@Example.TEST>, b@example.test\r\nTo: x@y\r\n\r\nbody"))
	f.Add([]byte("From: =?utf-8?q?J=C3=B6ran?= <j@bücher.test>\r\n\r\n"))
	f.Add([]byte("From: a@x\r\nFrom: b@y\r\n\r\n"))
	f.Add([]byte("From: \"unterminated <a@evil.test>\r\n\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		domains, n := fromDomains(body)
		seen := map[string]bool{}
		for _, d := range domains {
			if d != strings.ToLower(d) || seen[d] || d == "" {
				t.Fatalf("domains %q", domains)
			}
			seen[d] = true
		}
		if n > 1 && len(domains) != 0 {
			t.Fatalf("%d From fields but domains %q", n, domains)
		}
		// Every domain after an @ in a single From field is judged.
		if n == 1 && strings.Contains(string(body), "From: group: a@one.test, b@two.test;") && !(seen["one.test"] && seen["two.test"]) {
			t.Fatalf("group: %q", domains)
		}
	})
}

func TestFromDomains(t *testing.T) {
	for in, want := range map[string]string{
		"From: A <a@Example.TEST>, b@example.test\r\n\r\n":        "example.test",
		"From: group: a@one.test, b@two.test;\r\n\r\n":            "one.test two.test",
		"From: \"unterminated <a@bank.test>, x@evil.test\r\n\r\n": "bank.test evil.test",
		"From: <a@bank.test>>\r\n\r\n":                            "bank.test",
		"Subject: no from\r\n\r\n":                                "",
	} {
		got, _ := fromDomains([]byte(in))
		if strings.Join(got, " ") != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
