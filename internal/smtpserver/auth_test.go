package smtpserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/auth"
	"github.com/posthorn/posthorn/internal/certs"
	"github.com/posthorn/posthorn/internal/certs/certstest"
	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/sqlite"
	"github.com/posthorn/posthorn/internal/testutil/linetest"
)

// authBackend is fakeBackend whose sessions record logins.
type authBackend struct {
	fakeBackend
	mu     sync.Mutex
	logins []string
}

func (b *authBackend) NewSession(ci ConnInfo) Session {
	return &authFakeSession{fakeSession: b.fakeBackend.NewSession(ci).(*fakeSession), b: b}
}

type authFakeSession struct {
	*fakeSession
	b *authBackend
}

func (s *authFakeSession) Authenticated(acct store.Account) {
	s.b.mu.Lock()
	s.b.logins = append(s.b.logins, acct.Address)
	s.b.mu.Unlock()
}

// authService is an auth.Service over a store holding alice@example.test
// with the password "correct horse"; failures are not delayed.
func authService(t testing.TB, th auth.ThrottleOptions) *auth.Service {
	return authServiceOpts(t, auth.ServiceOptions{Throttle: th})
}

// authServiceOpts is authService with more options.
func authServiceOpts(t testing.TB, opts auth.ServiceOptions) *auth.Service {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "auth.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.AddDomain(ctx, "example.test"); err != nil {
		t.Fatal(err)
	}
	cred, err := auth.NewCredentials("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddAccount(ctx, "alice@example.test", cred); err != nil {
		t.Fatal(err)
	}
	opts.Sleep = func(context.Context, time.Duration) error { return nil }
	return auth.NewService(st, opts)
}

// devTLS is a server certificate for mx.test from a fresh dev CA, and a
// client config trusting the CA.
func devTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	f := certstest.Dev(t, t.TempDir(), []string{"mx.test"})
	pair, err := certs.Load(f.CertFile, f.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(f.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return &tls.Config{Certificates: []tls.Certificate{pair}}, &tls.Config{RootCAs: pool, ServerName: "mx.test"}
}

func plainIR(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
}

// startTLS upgrades c after STARTTLS and greets again.
func (c *client) startTLS(cfg *tls.Config) []string {
	c.T.Helper()
	c.Write("STARTTLS\r\n")
	c.ExpectReply("220 ")
	c.StartTLS(cfg)
	c.Write("EHLO client.test\r\n")
	lines, err := c.Reply()
	if err != nil {
		c.T.Fatal(err)
	}
	return lines
}

func TestAuthSubmissionFlow(t *testing.T) {
	t.Parallel()
	srvTLS, cliTLS := devTLS(t)
	be := &authBackend{}
	_, addr := startServer(t, Options{TLSConfig: srvTLS, Authenticator: authService(t, auth.ThrottleOptions{}), RequireAuth: true}, be)

	c := dialGreeted(t, addr)
	c.Write("EHLO client.test\r\n")
	lines, _ := c.Reply()
	if strings.Contains(strings.Join(lines, "\n"), "AUTH") {
		t.Errorf("AUTH advertised in plain text: %q", lines)
	}
	c.Write("AUTH PLAIN " + plainIR("alice@example.test", "correct horse") + "\r\n")
	c.ExpectReply("530 5.7.0 Must issue a STARTTLS command first")
	c.Write("MAIL FROM:<alice@example.test>\r\n")
	c.ExpectReply("530 5.7.0 Must issue a STARTTLS command first")

	lines = c.startTLS(cliTLS)
	if !strings.Contains(strings.Join(lines, "\n"), "AUTH SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN LOGIN") {
		t.Errorf("EHLO in TLS lacks the mechanisms: %q", lines)
	}
	c.Write("MAIL FROM:<alice@example.test>\r\n")
	c.ExpectReply("530 5.7.0 Authentication required")
	c.Write("AUTH PLAIN " + plainIR("alice@example.test", "wrong") + "\r\n")
	c.ExpectReply("535 5.7.8")
	c.Write("AUTH CRAM-MD5\r\n")
	c.ExpectReply("504 5.5.4")
	c.Write("AUTH PLAIN\r\n")
	c.ExpectReply("334 ")
	c.Write("AAAA\r\n") // three NULs: malformed
	c.ExpectReply("501 5.5.2")
	c.Write("AUTH LOGIN\r\n")
	if got := c.ExpectReply("334 "); got != "334 "+base64.StdEncoding.EncodeToString([]byte("Username:")) {
		t.Errorf("LOGIN challenge %q", got)
	}
	c.Write(base64.StdEncoding.EncodeToString([]byte("alice@example.test")) + "\r\n")
	c.ExpectReply("334 ")
	c.Write(base64.StdEncoding.EncodeToString([]byte("correct horse")) + "\r\n")
	c.ExpectReply("235 2.0.0")
	c.Write("AUTH PLAIN " + plainIR("alice@example.test", "correct horse") + "\r\n")
	c.ExpectReply("503 5.5.1")
	c.Write("MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
	c.ExpectReply("250 ")
	c.ExpectReply("250 ")
	c.ExpectReply("354 ")
	c.Write("Subject: x\r\n\r\nhi\r\n.\r\n")
	c.ExpectReply("250 ")

	be.mu.Lock()
	defer be.mu.Unlock()
	if len(be.logins) != 1 || be.logins[0] != "alice@example.test" {
		t.Errorf("backend saw logins %v", be.logins)
	}
}

// TestAuthFailuresCountAsErrors: guessing on one connection ends it.
func TestAuthFailuresCountAsErrors(t *testing.T) {
	t.Parallel()
	srvTLS, cliTLS := devTLS(t)
	_, addr := startServer(t, Options{TLSConfig: srvTLS, ImplicitTLS: true, MaxErrors: 3,
		Authenticator: authService(t, auth.ThrottleOptions{Disabled: true}), RequireAuth: true}, &authBackend{})
	nc, err := tls.Dial("tcp", addr, cliTLS)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{linetest.Wrap(t, nc, testTimeout)}
	c.ExpectReply("220 ")
	c.Write("EHLO client.test\r\n")
	c.ExpectReply("250 ")
	for i := range 3 {
		c.Write("AUTH PLAIN " + plainIR("alice@example.test", "guess"+string(rune('a'+i))) + "\r\n")
		c.ExpectReply("535 5.7.8")
	}
	c.Write("AUTH PLAIN " + plainIR("alice@example.test", "correct horse") + "\r\n")
	c.ExpectReply("421 4.7.0")
	c.ExpectClosed()
}

// TestAuthThrottled: a locked-out account gets 454 4.7.0, even with the
// right password.
func TestAuthThrottled(t *testing.T) {
	t.Parallel()
	srvTLS, cliTLS := devTLS(t)
	_, addr := startServer(t, Options{TLSConfig: srvTLS, ImplicitTLS: true,
		Authenticator: authService(t, auth.ThrottleOptions{MaxFailuresPerAccount: 2}), RequireAuth: true}, &authBackend{})
	nc, err := tls.Dial("tcp", addr, cliTLS)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{linetest.Wrap(t, nc, testTimeout)}
	c.ExpectReply("220 ")
	c.Write("EHLO client.test\r\n")
	c.ExpectReply("250 ")
	c.Write("AUTH PLAIN " + plainIR("alice@example.test", "guess1") + "\r\n")
	c.ExpectReply("535 5.7.8")
	c.Write("AUTH PLAIN " + plainIR("alice@example.test", "guess2") + "\r\n")
	c.ExpectReply("535 5.7.8")
	c.Write("AUTH PLAIN " + plainIR("alice@example.test", "correct horse") + "\r\n")
	c.ExpectReply("454 4.7.0")
}
