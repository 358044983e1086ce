package pop3server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/auth"
	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/sqlite"
	"github.com/posthorn/posthorn/internal/testutil/linetest"
)

// testTimeout bounds every wait in these tests.
const testTimeout = 10 * time.Second

const (
	alice   = "alice@example.test"
	bob     = "bob@example.test"
	alicePW = "alice pw with spaces"
	bobPW   = "bob-Pw-9q4m8"
)

// storeAuth is the test Authenticator: store credentials checked with
// auth.VerifyPassword, PLAIN as the only mechanism. The result of each
// check is remembered for the whole test process (passwordChecks), so
// that argon2id, which takes seconds under -race on a loaded machine,
// runs once per password and not at the first login of every test.
// Logins as throttled@example.test answer ThrottledError, as
// broken@example.test an internal error.
type storeAuth struct {
	st      store.Store
	noCache bool // run argon2id on every login

	mu     sync.Mutex
	logins int
}

// passwordChecks are the results of storeAuth's password checks: the
// key is the hash (the same in every test: credCache), a NUL and the
// password; the value whether they match.
var passwordChecks sync.Map

func newStoreAuth(st store.Store) *storeAuth {
	return &storeAuth{st: st}
}

var _ Authenticator = (*storeAuth)(nil)

func (a *storeAuth) Login(ctx context.Context, req auth.LoginRequest) (store.Account, error) {
	a.mu.Lock()
	a.logins++
	a.mu.Unlock()
	user := strings.ToLower(req.Username)
	switch user {
	case "throttled@example.test":
		return store.Account{}, &auth.ThrottledError{RetryAfter: time.Minute}
	case "broken@example.test":
		return store.Account{}, errors.New("database on fire at /var/secret")
	}
	acct, cred, err := a.st.Credentials(ctx, user)
	if errors.Is(err, store.ErrNotFound) {
		return store.Account{}, auth.ErrFailed
	}
	if err != nil {
		return store.Account{}, err
	}
	key := cred.PasswordHash + "\x00" + req.Password
	match, ok := passwordChecks.Load(key)
	if !ok || a.noCache {
		match = auth.VerifyPassword(cred.PasswordHash, req.Password) == nil
		passwordChecks.Store(key, match)
	}
	if !match.(bool) {
		return store.Account{}, auth.ErrFailed
	}
	return acct, nil
}

// Mechanisms is PLAIN, with or without TLS, like the auth service with
// AllowPlaintext: the engine decides where credentials may be sent.
func (a *storeAuth) Mechanisms(tls bool) []string { return []string{"PLAIN"} }

func (a *storeAuth) NewSASL(mech string, c auth.SASLConn) (auth.SASL, error) {
	if mech != "PLAIN" {
		return nil, fmt.Errorf("mechanism %q not supported", mech)
	}
	return &plainSASL{a: a, ip: c.RemoteIP}, nil
}

// plainSASL is RFC 4616 PLAIN on top of storeAuth.Login.
type plainSASL struct {
	a    *storeAuth
	ip   net.IP
	acct store.Account
}

func (p *plainSASL) Next(resp []byte) ([]byte, bool, error) {
	if resp == nil {
		return []byte{}, false, nil // ask for the credentials
	}
	parts := bytes.Split(resp, []byte{0})
	if len(parts) != 3 || (len(parts[0]) > 0 && !bytes.Equal(parts[0], parts[1])) {
		return nil, false, auth.ErrFailed
	}
	acct, err := p.a.Login(context.Background(), auth.LoginRequest{Username: string(parts[1]), Password: string(parts[2]), RemoteIP: p.ip, Protocol: "pop3"})
	if err != nil {
		return nil, false, err
	}
	p.acct = acct
	return nil, true, nil
}

func (p *plainSASL) Account() store.Account { return p.acct }

// credCache keeps the credentials made for each test password: argon2id
// is slow under -race, and every test makes a fresh store.
var credCache sync.Map // password -> store.Credentials

func testCredentials(pw string) (store.Credentials, error) {
	if c, ok := credCache.Load(pw); ok {
		return c.(store.Credentials), nil
	}
	c, err := auth.NewCredentials(pw)
	if err == nil {
		credCache.Store(pw, c)
	}
	return c, err
}

// testEnv is a store with alice and bob, and the Authenticator over it.
type testEnv struct {
	st           *sqlite.Store
	auth         *storeAuth
	alice, bob   store.Account
	aliceInboxID int64
}

func newEnv(t testing.TB) *testEnv {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "mail.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.AddDomain(ctx, "example.test"); err != nil {
		t.Fatal(err)
	}
	e := &testEnv{st: st, auth: newStoreAuth(st)}
	for _, u := range []struct {
		addr, pw string
		acct     *store.Account
	}{{alice, alicePW, &e.alice}, {bob, bobPW, &e.bob}} {
		cred, err := testCredentials(u.pw)
		if err != nil {
			t.Fatal(err)
		}
		if *u.acct, err = st.AddAccount(ctx, u.addr, cred); err != nil {
			t.Fatal(err)
		}
	}
	mb, err := st.Mailbox(ctx, e.alice.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	e.aliceInboxID = mb.ID
	return e
}

// deliver stores body in acct's INBOX.
func (e *testEnv) deliver(t testing.TB, acct store.Account, body string) store.Message {
	t.Helper()
	msgs, err := e.st.Deliver(context.Background(), store.Delivery{
		Body: []byte(body), Targets: []store.Target{{AccountID: acct.ID}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return msgs[0]
}

// inbox returns the bodies in acct's INBOX, in UID order.
func (e *testEnv) inbox(t testing.TB, acct store.Account) []string {
	t.Helper()
	ctx := context.Background()
	mb, err := e.st.Mailbox(ctx, acct.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := e.st.Messages(ctx, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		b, err := e.st.MessageBody(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// start serves opts on a loopback port and shuts the server down when
// the test ends.
func (e *testEnv) start(t testing.TB, opts Options) (*Server, string) {
	t.Helper()
	return e.startWith(t, opts, e.auth)
}

// startWith is start with another Authenticator.
func (e *testEnv) startWith(t testing.TB, opts Options, a Authenticator) (*Server, string) {
	t.Helper()
	return startOn(t, e.st, a, opts)
}

// startOn is start on another store.
func startOn(t testing.TB, st store.Store, a Authenticator, opts Options) (*Server, string) {
	t.Helper()
	if opts.Hostname == "" {
		opts.Hostname = "pop.test"
	}
	srv := New(opts, st, a)
	return srv, linetest.Serve(t, srv, testTimeout)
}

// client is a raw POP3 client for transcripts. Instead of linetest's one
// deadline for the whole conversation, every write and every wait for a
// line has its own, testTimeout from its start: a long conversation on a
// loaded machine (argon2id in auth.Service takes seconds under -race;
// the lock tests wait for renewals) must not fail for its total length.
type client struct{ *linetest.Conn }

// fresh starts the deadline of the next write or wait.
func (c *client) fresh() { c.NC.SetDeadline(time.Now().Add(testTimeout)) }

func (c *client) Write(s string) {
	c.T.Helper()
	c.fresh()
	c.Conn.Write(s)
}

func (c *client) Send(line string) {
	c.T.Helper()
	c.fresh()
	c.Conn.Send(line)
}

func (c *client) Line() string {
	c.T.Helper()
	c.fresh()
	return c.Conn.Line()
}

func (c *client) Expect(prefix string) string {
	c.T.Helper()
	c.fresh()
	return c.Conn.Expect(prefix)
}

func (c *client) ExpectClosed() {
	c.T.Helper()
	c.fresh()
	c.Conn.ExpectClosed()
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	return &client{linetest.Dial(t, addr, testTimeout)}
}

// dialGreeted dials and reads the +OK greeting.
func dialGreeted(t testing.TB, addr string) *client {
	t.Helper()
	c := dial(t, addr)
	c.Expect("+OK ")
	return c
}

// cmd sends line and expects a reply starting with prefix.
func (c *client) cmd(line, prefix string) string {
	c.T.Helper()
	c.Send(line)
	return c.Expect(prefix)
}

// multi reads the lines of a multi-line reply up to the final ".",
// undoing the dot-stuffing.
func (c *client) multi() []string {
	c.T.Helper()
	var lines []string
	for {
		l := c.Line()
		if l == "." {
			return lines
		}
		if strings.HasPrefix(l, ".") {
			l = l[1:]
		}
		lines = append(lines, l)
	}
}

// message reads a multi-line reply and returns the octets it carried, in
// CRLF form, as a client that undoes the stuffing has them.
func (c *client) message() string {
	c.T.Helper()
	var b strings.Builder
	for _, l := range c.multi() {
		b.WriteString(l + "\r\n")
	}
	return b.String()
}

func (c *client) login(user, pw string) {
	c.T.Helper()
	c.cmd("USER "+user, "+OK")
	c.cmd("PASS "+pw, "+OK ")
}

// testTLS returns a server TLS config with a fresh self-signed certificate
// for pop.test and 127.0.0.1, a client config trusting it, and the
// certificate as a PEM file (for Python and fetchmail).
func testTLS(t testing.TB) (server, client *tls.Config, caFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "pop.test"},
		DNSNames:              []string{"pop.test"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	client = &tls.Config{RootCAs: pool, ServerName: "pop.test"}
	return server, client, caFile
}
