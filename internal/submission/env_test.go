package submission

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/auth"
	"github.com/posthorn/posthorn/internal/certs"
	"github.com/posthorn/posthorn/internal/certs/certstest"
	"github.com/posthorn/posthorn/internal/smtpserver"
	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/sqlite"
	"github.com/posthorn/posthorn/internal/testutil/linetest"
)

// testTimeout bounds each connection of a test: logins cost argon2id runs,
// slow under the race detector on a busy machine.
const testTimeout = 30 * time.Second

// fixedNow is the clock of the policy, so added headers are exact.
var fixedNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.FixedZone("", 3600))

const dateStr = "Sat, 14 Mar 2026 15:09:26 +0100"

// Passwords of the test accounts.
const (
	alicePW = "alice-password-1"
	bobPW   = "bob-password-22"
	carolPW = "carol-password-333"
)

// env is a submission server on a fresh store, listening on a STARTTLS
// port (587) and an implicit-TLS port (465): domain example.test with
// alice, bob and carol (who may send as the whole domain), aliases
// sales@ -> alice and team@ -> alice, bob, and other.test with a
// catch-all to alice.
type env struct {
	t        testing.TB
	st       store.Store
	auth     *auth.Service
	addr587  string
	addr465  string
	caFile   string
	cliTLS   *tls.Config
	accts    map[string]store.Account
	hostname string
}

type envOpts struct {
	hideClientIP bool
	throttle     auth.ThrottleOptions
	maxErrors    int
	signer       Signer
}

func newEnv(t testing.TB, eo envOpts) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "store.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, st: st, accts: map[string]store.Account{}, hostname: "mail.example.test"}
	for _, d := range []string{"example.test", "other.test"} {
		if err := st.AddDomain(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	for addr, pw := range map[string]string{"alice@example.test": alicePW, "bob@example.test": bobPW, "carol@example.test": carolPW} {
		cred, err := auth.NewCredentials(pw)
		if err != nil {
			t.Fatal(err)
		}
		a, err := st.AddAccount(ctx, addr, cred)
		if err != nil {
			t.Fatal(err)
		}
		e.accts[addr] = a
	}
	if err := st.SetMaySendAsDomain(ctx, "carol@example.test", true); err != nil {
		t.Fatal(err)
	}
	for alias, targets := range map[string][]string{
		"sales@example.test": {"alice@example.test"},
		"team@example.test":  {"alice@example.test", "bob@example.test"},
		"@other.test":        {"alice@example.test"},
	} {
		if err := st.AddAlias(ctx, alias, targets); err != nil {
			t.Fatal(err)
		}
	}
	th := eo.throttle
	if th == (auth.ThrottleOptions{}) {
		th.Disabled = true
	}
	e.auth = auth.NewService(st, auth.ServiceOptions{
		Throttle: th,
		Sleep:    func(context.Context, time.Duration) error { return nil }, // no real waiting in tests
	})

	files := certstest.Dev(t, filepath.Join(t.TempDir(), "tls"), []string{e.hostname}, net.ParseIP("127.0.0.1"))
	pair, err := certs.Load(files.CertFile, files.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	srvTLS, err := certs.ServerConfig(pair, "1.2")
	if err != nil {
		t.Fatal(err)
	}
	e.caFile = files.CAFile
	ca, err := os.ReadFile(files.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	e.cliTLS = &tls.Config{RootCAs: pool, ServerName: e.hostname}

	be := New(Options{Store: st, Hostname: e.hostname, SubaddressSeparator: "+", HideClientIP: eo.hideClientIP,
		Signer: eo.signer, Now: func() time.Time { return fixedNow }})
	for _, implicit := range []bool{false, true} {
		opts := smtpserver.Options{Hostname: e.hostname, TLSConfig: srvTLS, ImplicitTLS: implicit,
			Authenticator: e.auth, RequireAuth: true, MaxErrors: eo.maxErrors}
		addr := serve(t, smtpserver.New(opts, be))
		if implicit {
			e.addr465 = addr
		} else {
			e.addr587 = addr
		}
	}
	return e
}

// serve runs srv on a loopback port until the test ends.
func serve(t testing.TB, srv *smtpserver.Server) string {
	t.Helper()
	return linetest.Serve(t, srv, testTimeout)
}

// inbox returns the bodies in an account's INBOX, in UID order.
func (e *env) inbox(addr string) []string {
	e.t.Helper()
	ctx := context.Background()
	mb, err := e.st.Mailbox(ctx, e.accts[addr].ID, store.Inbox)
	if err != nil {
		e.t.Fatal(err)
	}
	msgs, err := e.st.Messages(ctx, mb.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		b, err := e.st.MessageBody(ctx, m.ID)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// queue returns the outbound queue with bodies.
func (e *env) queue() []store.QueuedMessage {
	e.t.Helper()
	ctx := context.Background()
	ms, err := e.st.QueuedMessages(ctx, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := range ms {
		if ms[i].Body, err = e.st.QueuedBody(ctx, ms[i].ID); err != nil {
			e.t.Fatal(err)
		}
	}
	return ms
}

// raw is a line-level SMTP client for transcripts.
type raw struct{ *linetest.Conn }

// dial587 connects to the STARTTLS port and reads the greeting.
func (e *env) dial587() *raw {
	e.t.Helper()
	nc, err := net.DialTimeout("tcp", e.addr587, testTimeout)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.greet(nc)
}

// dial465 connects to the implicit-TLS port and reads the greeting.
func (e *env) dial465() *raw {
	e.t.Helper()
	d := &net.Dialer{Timeout: testTimeout}
	nc, err := tls.DialWithDialer(d, "tcp", e.addr465, e.cliTLS)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.greet(nc)
}

func (e *env) greet(nc net.Conn) *raw {
	c := &raw{linetest.Wrap(e.t, nc, testTimeout)}
	c.ExpectReply("220 ")
	return c
}

// startTLS runs STARTTLS and EHLO again; it returns the EHLO reply.
func (c *raw) startTLS(cfg *tls.Config) string {
	c.T.Helper()
	c.Write("STARTTLS\r\n")
	return c.upgrade(cfg)
}

// upgrade reads the reply to a STARTTLS already sent, runs the handshake
// and EHLO again; it returns the EHLO reply.
func (c *raw) upgrade(cfg *tls.Config) string {
	c.T.Helper()
	c.ExpectReply("220 ")
	c.StartTLS(cfg)
	c.Write("EHLO client.test\r\n")
	return c.expectAll("250 ")
}

// expectAll reads one reply whose last line starts with prefix and
// returns all its lines, joined by newlines.
func (c *raw) expectAll(prefix string) string {
	c.T.Helper()
	return strings.Join(c.ExpectReplyLines(prefix), "\n")
}
