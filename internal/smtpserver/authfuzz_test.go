package smtpserver

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/auth"
)

// FuzzAuthSession is FuzzSession with AUTH on (in plain text, so the
// fuzzer reaches the SASL exchanges without TLS) and RequireAuth: arbitrary
// AUTH dialogues never hang a session or produce a malformed reply.
func FuzzAuthSession(f *testing.F) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, seed := range []string{
		"EHLO a\r\nAUTH PLAIN " + b64("\x00alice@example.test\x00correct horse") + "\r\nMAIL FROM:<alice@example.test>\r\nRCPT TO:<b@c.test>\r\n",
		"EHLO a\r\nAUTH LOGIN\r\n" + b64("alice@example.test") + "\r\n" + b64("wrong") + "\r\nMAIL FROM:<a@b.test>\r\n",
		"EHLO a\r\nAUTH LOGIN " + b64("alice@example.test") + "\r\n*\r\nAUTH PLAIN =\r\n",
		"EHLO a\r\nAUTH SCRAM-SHA-256 " + b64("n,,n=alice@example.test,r=abcdef") + "\r\n" + b64("c=biws,r=abcdef,p=AAAA") + "\r\n",
		"EHLO a\r\nAUTH SCRAM-SHA-256\r\n=\r\nAUTH CRAM-MD5\r\nAUTH PLAIN !!!\r\nAUTH\r\n",
		"EHLO a\r\nAUTH PLAIN\r\n" + b64("\x00\x00") + "\r\nAUTH PLAIN " + b64("x\x00alice@example.test\x00correct horse") + "\r\n",
	} {
		f.Add([]byte(seed))
	}
	a := authServiceOpts(f, auth.ServiceOptions{AllowPlaintext: true, Throttle: auth.ThrottleOptions{Disabled: true}})
	_, addr := startServer(f, Options{
		Authenticator:    a,
		RequireAuth:      true,
		MaxLineLength:    1000,
		MaxMessageBytes:  10000,
		MaxErrors:        5,
		CommandTimeout:   3 * time.Second,
		DataBlockTimeout: 3 * time.Second,
		DataTotalTimeout: 3 * time.Second,
	}, &authBackend{})
	f.Fuzz(func(t *testing.T, in []byte) { checkSession(t, addr, in) })
}
