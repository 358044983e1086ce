package compose

import "testing"

// TestCanonicalLines: LF, CR and CRLF each become one CRLF, on the
// LF-only fast path and the general one alike.
func TestCanonicalLines(t *testing.T) {
	for in, want := range map[string]string{
		"":                   "",
		"no break":           "no break",
		"a\nb":               "a\r\nb",
		"a\n\nb\n":           "a\r\n\r\nb\r\n",
		"\n":                 "\r\n",
		"\nlead":             "\r\nlead",
		"a\r\nb":             "a\r\nb",
		"a\rb\nc\r\n\r":      "a\r\nb\r\nc\r\n\r\n",
		"x\r\r\ny\n\nz":      "x\r\n\r\ny\r\n\r\nz",
		"ünï\ncödé\n\n":      "ünï\r\ncödé\r\n\r\n",
		"trailing\r":         "trailing\r\n",
		"lf then cr\n\rmore": "lf then cr\r\n\r\nmore",
	} {
		if got := string(canonicalLines(in)); got != want {
			t.Errorf("canonicalLines(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestTextEncoding: 7bit up to 998 octets a line (CR not counted) in
// ASCII, quoted-printable below one non-ASCII octet in six, else base64.
func TestTextEncoding(t *testing.T) {
	long := func(n int) string { return string(make([]byte, n)) }
	for in, want := range map[string]string{
		"":                            "7bit",
		"plain\r\ntext\r\n":           "7bit",
		long(998) + "\r\n" + long(10): "7bit",
		long(998) + "\r\r\n":          "7bit",
		long(999) + "\r\n":            "quoted-printable",
		"short\r\n" + long(999):       "quoted-printable",
		"caf\xc3\xa9 au lait, s'il vous pla\xc3\xaet": "quoted-printable",
		"\xc3\xa9\xc3\xa9\xc3\xa9\r\n":                "base64",
	} {
		if got := textEncoding([]byte(in)); got != want {
			t.Errorf("textEncoding(%.30q... len %d) = %s, want %s", in, len(in), got, want)
		}
	}
}
