package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"math/big"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/sqlite"
	"github.com/posthorn/posthorn/internal/testutil/syncbuf"
)

// fakeClock is the throttle's clock in tests: Sleep advances it and
// records the delay, so no test waits for real.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	slept []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.slept = append(c.slept, d)
	return nil
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *fakeClock) Slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

// env is a Service over a fresh SQLite store with the domain example.org.
type env struct {
	t     *testing.T
	st    store.Store
	svc   *Service
	clock *fakeClock
	logs  *syncbuf.Buffer
}

func newEnv(t *testing.T, opts ServiceOptions) *env {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "auth.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.AddDomain(context.Background(), "example.org"); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, clock: newFakeClock(), logs: &syncbuf.Buffer{}}
	opts.Now, opts.Sleep = e.clock.Now, e.clock.Sleep
	opts.Logger = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.svc = NewService(st, opts)
	return e
}

// account creates addr with password pw.
func (e *env) account(addr, pw string) store.Account {
	e.t.Helper()
	cred, err := NewCredentials(pw)
	if err != nil {
		e.t.Fatal(err)
	}
	a, err := e.st.AddAccount(context.Background(), addr, cred)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func (e *env) login(user, pw, ip string) (store.Account, error) {
	return e.svc.Login(context.Background(), LoginRequest{Username: user, Password: pw, RemoteIP: net.ParseIP(ip), Protocol: "imap"})
}

// tlsPair runs a TLS handshake over an in-memory pipe and returns both
// sides' connection states (for tls-exporter channel binding).
func tlsPair(t *testing.T, maxVersion uint16) (server, client *tls.ConnectionState) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mail.example.org"},
		DNSNames: []string{"mail.example.org"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	srv := tls.Server(a, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MaxVersion: maxVersion})
	cli := tls.Client(b, &tls.Config{InsecureSkipVerify: true, MaxVersion: maxVersion})
	errc := make(chan error, 1)
	go func() { errc <- srv.Handshake() }()
	if err := cli.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	s, c := srv.ConnectionState(), cli.ConnectionState()
	return &s, &c
}

// run drives a SASL exchange with the given client responses and returns
// the challenges and the final error.
func run(m SASL, responses ...[]byte) (challenges [][]byte, done bool, err error) {
	for _, r := range responses {
		var ch []byte
		ch, done, err = m.Next(r)
		if err != nil || done {
			return challenges, done, err
		}
		challenges = append(challenges, ch)
	}
	return challenges, done, err
}

func storeCred(hash string) store.Credentials { return store.Credentials{PasswordHash: hash} }

func parseIP(s string) net.IP { return net.ParseIP(s) }
