package dmarc_test

import (
	"testing"

	"github.com/posthorn/posthorn/internal/dmarc"
)

// FuzzParseRecord: the parser never panics, and what it accepts has a
// valid policy and alignment modes and a pct within 0-100.
func FuzzParseRecord(f *testing.F) {
	f.Add("v=DMARC1; p=reject; sp=quarantine; pct=50; adkim=s; aspf=r; rua=mailto:a@b.example")
	f.Add("v=DMARC1;p=none")
	f.Fuzz(func(t *testing.T, s string) {
		rec, err := dmarc.ParseRecord(s)
		if err != nil {
			return
		}
		switch dmarc.Policy(rec.Policy) {
		case dmarc.PolicyNone, dmarc.PolicyQuarantine, dmarc.PolicyReject:
		default:
			t.Fatalf("%q: policy %q", s, rec.Policy)
		}
		if rec.Percent != nil && (*rec.Percent < 0 || *rec.Percent > 100) {
			t.Fatalf("%q: pct %d", s, *rec.Percent)
		}
		if rec.DKIMAlignment != "r" && rec.DKIMAlignment != "s" || rec.SPFAlignment != "r" && rec.SPFAlignment != "s" {
			t.Fatalf("%q: alignment %q %q", s, rec.DKIMAlignment, rec.SPFAlignment)
		}
	})
}
