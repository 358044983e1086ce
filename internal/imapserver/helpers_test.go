package imapserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/auth"
	"github.com/posthorn/posthorn/internal/certs/certstest"
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

// testAuth is the real auth.Service with the password checks of LOGIN
// remembered across tests (argon2id is slow under -race). Logins as
// throttled@example.test answer a ThrottledError, as broken@example.test
// an internal error.
type testAuth struct {
	*auth.Service
	st store.Store
	// fast checks LOGIN against the test passwords without argon2id
	// (FuzzSession, where most mutated logins fail).
	fast bool
}

// verified are (address, password) pairs the real service accepted.
var verified sync.Map

func (a *testAuth) Login(ctx context.Context, req auth.LoginRequest) (store.Account, error) {
	user := strings.ToLower(req.Username)
	switch user {
	case "throttled@example.test":
		return store.Account{}, &auth.ThrottledError{RetryAfter: time.Minute}
	case "broken@example.test":
		return store.Account{}, errors.New("database on fire at /var/secret")
	}
	if _, ok := verified.Load(user + "\x00" + req.Password); ok {
		return a.st.Account(ctx, user)
	}
	if a.fast {
		if pw, ok := map[string]string{alice: alicePW, bob: bobPW}[user]; ok && pw == req.Password {
			return a.st.Account(ctx, user)
		}
		return store.Account{}, auth.ErrFailed
	}
	acct, err := a.Service.Login(ctx, req)
	if err == nil {
		verified.Store(user+"\x00"+req.Password, true)
	}
	return acct, err
}

// testEnv is a store with alice and bob, and the authentication over it.
type testEnv struct {
	st         *sqlite.Store
	auth       *testAuth
	alice, bob store.Account
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
	// No delay after a failed login: the tests count answers, not time.
	svc := auth.NewService(st, auth.ServiceOptions{
		Sleep:    func(context.Context, time.Duration) error { return nil },
		Throttle: auth.ThrottleOptions{MaxFailuresPerIP: 1000, MaxFailuresPerAccount: 1000},
	})
	e := &testEnv{st: st, auth: &testAuth{Service: svc, st: st}}
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

// mailbox returns acct's mailbox name, failing the test if it is missing.
func (e *testEnv) mailbox(t testing.TB, acct store.Account, name string) store.Mailbox {
	t.Helper()
	mb, err := e.st.Mailbox(context.Background(), acct.ID, name)
	if err != nil {
		t.Fatalf("mailbox %q: %v", name, err)
	}
	return mb
}

// start serves opts on a loopback port with plaintext logins allowed
// (loopback), and shuts the server down when the test ends.
func (e *testEnv) start(t testing.TB, opts Options) (*Server, string) {
	t.Helper()
	return e.startWith(t, opts, func(*Server) {})
}

// startWith is start with a hook that adjusts the server before it
// serves (test-only fields such as idleTimeout).
func (e *testEnv) startWith(t testing.TB, opts Options, adjust func(*Server)) (*Server, string) {
	t.Helper()
	if opts.Hostname == "" {
		opts.Hostname = "imap.test"
	}
	srv := New(opts, e.st, e.auth)
	adjust(srv)
	return srv, linetest.Serve(t, srv, testTimeout)
}

// plain starts a server that takes logins in plain text on loopback.
func (e *testEnv) plain(t testing.TB) string {
	t.Helper()
	_, addr := e.start(t, Options{AllowPlaintextAuth: true})
	return addr
}

// client is a raw IMAP client for transcripts.
type client struct{ *linetest.Conn }

func dial(t testing.TB, addr string) *client {
	t.Helper()
	return &client{linetest.Dial(t, addr, testTimeout)}
}

// dialGreeted dials and reads the OK greeting.
func dialGreeted(t testing.TB, addr string) *client {
	t.Helper()
	c := dial(t, addr)
	c.Expect("* OK [CAPABILITY IMAP4rev1 IMAP4rev2")
	return c
}

// loggedIn dials and logs in as alice.
func loggedIn(t testing.TB, addr string) *client {
	t.Helper()
	c := dialGreeted(t, addr)
	c.login(alice, alicePW)
	return c
}

// run sends "tag line" and returns every response line up to and
// including the tagged one.
func (c *client) run(tag, line string) []string {
	c.T.Helper()
	c.Send(tag + " " + line)
	return c.until(tag)
}

// until reads lines up to and including the one tagged tag.
func (c *client) until(tag string) []string {
	c.T.Helper()
	var lines []string
	for {
		l := c.Line()
		lines = append(lines, l)
		if strings.HasPrefix(l, tag+" ") {
			return lines
		}
	}
}

// transcript sends "tag line" and asserts the exact response lines.
func (c *client) transcript(tag, line string, want ...string) {
	c.T.Helper()
	got := c.run(tag, line)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		c.T.Fatalf("%s %s:\ngot:\n  %s\nwant:\n  %s", tag, line, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// ok sends a command and asserts its tagged OK; it returns the untagged
// lines.
func (c *client) ok(tag, line string) []string {
	c.T.Helper()
	got := c.run(tag, line)
	if last := got[len(got)-1]; !strings.HasPrefix(last, tag+" OK") {
		c.T.Fatalf("%s %s: got %q", tag, line, got)
	}
	return got[:len(got)-1]
}

func (c *client) login(user, pw string) {
	c.T.Helper()
	c.ok("L", fmt.Sprintf("LOGIN %q %q", user, pw))
}

// testTLS returns a server config for imap.test and a client that trusts
// it.
func testTLS(t testing.TB) (server, client *tls.Config) {
	return certstest.SelfSigned(t, "imap.test")
}

// inbox returns the messages in acct's INBOX.
func (e *testEnv) inbox(t testing.TB, acct store.Account) []store.Message {
	t.Helper()
	msgs, err := e.st.Messages(context.Background(), e.mailbox(t, acct, store.Inbox).ID)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}
