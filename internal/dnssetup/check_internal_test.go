package dnssetup

import "testing"

func TestSameKey(t *testing.T) {
	const ours = "v=DKIM1; k=rsa; p=MIIBIjANBgkq"
	for rec, want := range map[string]bool{
		"v=DKIM1; k=rsa; p=MIIBIjANBgkq":     true,
		"v=DKIM1;k=rsa;p=MIIB IjAN\tBgkq":    true, // whitespace inside p= (RFC 6376 §3.6.1)
		"v=DKIM1; p=MIIBIjANBgkq":            true, // k= defaults to rsa
		"v=DKIM1; k=ed25519; p=MIIBIjANBgkq": false,
		"v=DKIM1; k=rsa; p=MIIBIjANBgkX":     false,
		"v=DKIM1; k=rsa; p=":                 false, // revoked
		"v=DKIM1; k=rsa":                     false,
	} {
		if got := sameKey(rec, ours); got != want {
			t.Errorf("sameKey(%q) = %v, want %v", rec, got, want)
		}
	}
}
