package message

import (
	"strings"
	"testing"
)

// lines returns n CRLF-terminated lines of c, n-1 of them width octets
// long (CRLF included) and the last one last octets long.
func lines(c string, n, width, last int) string {
	var b strings.Builder
	for i := range n {
		w := width
		if i == n-1 {
			w = last
		}
		b.WriteString(strings.Repeat(c, w-2) + "\r\n")
	}
	return b.String()
}

// The FETCH examples of RFC 3501 §6.4.5 and §7.4.2, rebuilt as messages
// with the same sizes and line counts. Types compare case-insensitively
// (RFC 9051 §9: they are case-insensitive strings).
func TestRFCExamples(t *testing.T) {
	// RFC 3501 §6.4.5 (FETCH example) ENVELOPE and BODY.
	raw := "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n" +
		"From: Terry Gray <gray@cac.washington.edu>\r\n" +
		"Subject: IMAP4rev1 WG mtg summary and minutes\r\n" +
		"To: imap@cac.washington.edu\r\n" +
		"cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n" +
		"Message-Id: <B27397-0100000@cac.washington.edu>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\n" +
		lines("x", 92, 33, 25)
	p, _ := Parse([]byte(raw))
	wantEnv := `("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" ` +
		`(("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) ` +
		`(("Terry Gray" NIL "gray" "cac.washington.edu")) ((NIL NIL "imap" "cac.washington.edu")) ` +
		`((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL ` +
		`"<B27397-0100000@cac.washington.edu>")`
	if got := p.Envelope.String(); got != wantEnv {
		t.Errorf("ENVELOPE\n got %s\nwant %s", got, wantEnv)
	}
	if got, want := string(p.BodyStructure(false)), `("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92)`; !strings.EqualFold(got, want) {
		t.Errorf("BODY\n got %s\nwant %s", got, want)
	}

	// RFC 3501 §7.4.2 BODYSTRUCTURE example (a multipart/mixed of two
	// text parts, the second base64 with ID and description).
	raw = "Content-Type: MULTIPART/MIXED; BOUNDARY=\"b\"\r\n\r\n" +
		"--b\r\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\n" + lines("t", 23, 50, 52) +
		"\r\n--b\r\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII; NAME=cc.diff\r\n" +
		"Content-ID: <960723163407.20117h@cac.washington.edu>\r\n" +
		"Content-Description: Compiler diff\r\nContent-Transfer-Encoding: BASE64\r\n\r\n" + lines("A", 73, 62, 90) +
		"\r\n--b--\r\n"
	p, _ = Parse([]byte(raw))
	want := `(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23)("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff") ` +
		`"<960723163407.20117h@cac.washington.edu>" "Compiler diff" "BASE64" 4554 73) "MIXED")`
	if got := string(p.BodyStructure(false)); !strings.EqualFold(got, want) {
		t.Errorf("BODY\n got %s\nwant %s", got, want)
	}
}
