package smtpserver

import (
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
	c.Write("EHLO client.test\r\n")
	if l := c.ehloLines(); strings.Contains(l, "REQUIRETLS") {
		t.Errorf("REQUIRETLS advertised without TLS: %q", l)
	}
	c.Write("MAIL FROM:<a@b.test> REQUIRETLS\r\n")
	c.ExpectReply("530 5.7.10")
	c.Write("STARTTLS\r\n")
	c.ExpectReply("220 ")
	c.StartTLS(cliTLS)
	c.Write("EHLO client.test\r\n")
	if l := c.ehloLines(); !strings.Contains(l, "250-REQUIRETLS") && !strings.Contains(l, "250 REQUIRETLS") {
		t.Errorf("REQUIRETLS not advertised inside TLS: %q", l)
	}
	c.Write("MAIL FROM:<a@b.test> REQUIRETLS\r\n")
	c.ExpectReply("250 ")
	c.Write("RSET\r\nMAIL FROM:<a@b.test>\r\n")
	c.ExpectReply("250 ")
	c.ExpectReply("250 ")
	be.mu.Lock()
	defer be.mu.Unlock()
	if !slices.Equal(be.requireTLS, []bool{true, false}) {
		t.Errorf("backend saw RequireTLS %v, want [true false]", be.requireTLS)
	}
}

// ehloLines reads a reply and returns its lines joined by newlines.
func (c *client) ehloLines() string {
	c.T.Helper()
	lines, err := c.Reply()
	if err != nil {
		c.T.Fatal(err)
	}
	return strings.Join(lines, "\n")
}
