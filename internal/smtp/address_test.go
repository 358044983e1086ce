package smtp

import (
	"errors"
	"strings"
	"testing"
)

// Local parts longer than RFC 5321's 64 octets, as SRS and VERP return
// paths are, parse; longer than a whole path does not.
func TestLongLocalParts(t *testing.T) {
	srs := "SRS0=AbCd=X4=some-long-sender-domain.example.com=firstname.lastname"
	if len(srs) <= 64 {
		t.Fatalf("test local part is only %d octets", len(srs))
	}
	for _, local := range []string{srs, strings.Repeat("a", MaxLocalPartLen)} {
		for name, parse := range map[string]func(string) (Address, error){"ParseAddress": ParseAddress, "ParseUnquotedAddress": ParseUnquotedAddress} {
			a, err := parse(local + "@forwarder.example")
			if err != nil || a.Local != local || a.Domain != "forwarder.example" {
				t.Errorf("%s of a %d-octet local part: %+v, %v", name, len(local), a, err)
			}
		}
	}
	quoted := `"` + strings.Repeat("b ", 40) + `"@x.test`
	if a, err := ParseAddress(quoted); err != nil || len(a.Local) != 80 {
		t.Errorf("ParseAddress of an 80-octet quoted local part: %+v, %v", a, err)
	}
	tooLong := strings.Repeat("a", MaxLocalPartLen+1) + "@x.test"
	for name, parse := range map[string]func(string) (Address, error){"ParseAddress": ParseAddress, "ParseUnquotedAddress": ParseUnquotedAddress} {
		if _, err := parse(tooLong); !errors.Is(err, ErrBadAddress) {
			t.Errorf("%s of a %d-octet local part: err %v, want ErrBadAddress", name, MaxLocalPartLen+1, err)
		}
	}
}
