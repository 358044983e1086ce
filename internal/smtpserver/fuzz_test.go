package smtpserver

import (
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/certs/certstest"
	"github.com/posthorn/posthorn/internal/testutil/linetest"
)

// FuzzSession feeds arbitrary client bytes to a server over loopback and
// checks that the session ends (no hang), nothing panics, and every reply
// line is well formed: three digits 2xx-5xx, then space or hyphen, CRLF.
//
// A reply line may contain a bare CR: go-smtp echoes the client's own
// command word and EHLO argument, which may hold one ("500 5.5.2 Syntax
// errors, 00\r0 command unrecognized"). Only that client sees it.
func FuzzSession(f *testing.F) {
	for _, seed := range []string{
		"EHLO a\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n",
		"HELO a\r\nMAIL FROM:<>\r\nRCPT TO:<unknown@d.test>\r\nRSET\r\nNOOP\r\nVRFY x\r\n",
		"EHLO a\r\nMAIL FROM:<a@b.test> SIZE=10 BODY=8BITMIME SMTPUTF8\r\nRCPT TO:<ü@d.test>\r\nBDAT 3\r\nabcBDAT 2 LAST\r\n\r\n",
		"EHLO a\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nx\n.\nMAIL FROM:<e@f>\r\n.\r\n",
		"EHLO a\r\nSTARTTLS\r\nMAIL FROM:<a@b.test>\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"EHLO a\r\nAUTH PLAIN AGFAYg==\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<fail@d.test>\r\n",
		"EHLO a\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nBDAT 4294967295 LAST\r\n",
		"\x00\xff\r\n\r\n\n\r.\r\n",
	} {
		f.Add([]byte(seed))
	}
	srvTLS, _ := certstest.SelfSigned(f, "mx.test")
	be := &fakeBackend{}
	_, addr := startServer(f, Options{
		TLSConfig:        srvTLS,
		MaxLineLength:    1000,
		MaxMessageBytes:  10000,
		MaxRecipients:    5,
		MaxErrors:        5,
		CommandTimeout:   3 * time.Second,
		DataBlockTimeout: 3 * time.Second,
		DataTotalTimeout: 3 * time.Second,
	}, be)

	f.Fuzz(func(t *testing.T, in []byte) { checkSession(t, addr, in) })
}

// checkSession sends in to the server at addr, half-closes, and checks
// that the session ends in time with well-formed replies only.
func checkSession(t *testing.T, addr string, in []byte) {
	linetest.Session(t, addr, in, testTimeout, wellFormed)
}

func wellFormed(l string) bool {
	if len(l) < 6 || !strings.HasSuffix(l, "\r\n") || strings.Contains(l[:len(l)-2], "\n") {
		return false
	}
	if l[0] < '2' || l[0] > '5' || l[1] < '0' || l[1] > '9' || l[2] < '0' || l[2] > '9' {
		return false
	}
	return l[3] == ' ' || l[3] == '-'
}
