package smtpserver

import (
	"bufio"
	"crypto/tls"
	"slices"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/certs/certstest"
)

// REQUIRETLS (RFC 8689 §4.1): advertised and accepted only inside TLS,
// and handed to the backend.
func TestREQUIRETLS(t *testing.T) {
	t.Parallel()
	srvTLS, cliTLS := certstest.SelfSigned(t, "mx.test")
	be := &fakeBackend{}
	_, addr := startServer(t, Options{TLSConfig: srvTLS}, be)
	c := dialGreeted(t, addr)
	c.send("EHLO client.test\r\n")
	if l := c.ehloLines(); strings.Contains(l, "REQUIRETLS") {
		t.Errorf("REQUIRETLS advertised without TLS: %q", l)
	}
	c.send("MAIL FROM:<a@b.test> REQUIRETLS\r\n")
	c.expect("530 5.7.10")
	c.send("STARTTLS\r\n")
	c.expect("220 ")
	tc := tls.Client(c.nc, cliTLS)
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	c.r, c.nc = bufio.NewReader(tc), tc
	c.send("EHLO client.test\r\n")
	if l := c.ehloLines(); !strings.Contains(l, "250-REQUIRETLS") && !strings.Contains(l, "250 REQUIRETLS") {
		t.Errorf("REQUIRETLS not advertised inside TLS: %q", l)
	}
	c.send("MAIL FROM:<a@b.test> REQUIRETLS\r\n")
	c.expect("250 ")
	c.send("RSET\r\nMAIL FROM:<a@b.test>\r\n")
	c.expect("250 ")
	c.expect("250 ")
	be.mu.Lock()
	defer be.mu.Unlock()
	if !slices.Equal(be.requireTLS, []bool{true, false}) {
		t.Errorf("backend saw RequireTLS %v, want [true false]", be.requireTLS)
	}
}

// ehloLines reads a reply and returns its lines joined by newlines.
func (c *client) ehloLines() string {
	c.t.Helper()
	lines, err := c.reply()
	if err != nil {
		c.t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}
