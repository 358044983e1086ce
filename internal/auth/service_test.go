package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ServiceOptions{})
	alice := e.account("alice@example.org", "correct horse")
	for _, user := range []string{"alice@example.org", "Alice@Example.ORG", " alice@example.org "} {
		got, err := e.login(user, "correct horse", "192.0.2.1")
		if err != nil || got.ID != alice.ID {
			t.Errorf("Login(%q) = %+v, %v; want alice", user, got, err)
		}
	}
	for _, c := range []struct{ user, pw string }{
		{"alice@example.org", "correct horsE"},
		{"alice@example.org", ""},
		{"nobody@example.org", "correct horse"},
		{"alice", "correct horse"},
		{"", ""},
	} {
		if _, err := e.login(c.user, c.pw, "192.0.2.1"); !errors.Is(err, ErrFailed) {
			t.Errorf("Login(%q, %q) = %v, want ErrFailed", c.user, c.pw, err)
		}
	}
}

func TestAppPasswordLogin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, ServiceOptions{})
	alice := e.account("alice@example.org", "correct horse")
	app := GeneratePassword()
	hash, err := HashPassword(app)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := HashPassword(GeneratePassword())
	for name, h := range map[string]string{"laptop": other, "phone": hash} {
		if _, err := e.st.AddAppPassword(ctx, alice.Address, name, storeCred(h)); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := e.login("alice@example.org", app, "192.0.2.1"); err != nil || got.ID != alice.ID {
		t.Fatalf("login with the app password = %+v, %v", got, err)
	}
	if !strings.Contains(e.logs.String(), `with="app password phone"`) {
		t.Errorf("log does not say which app password was used:\n%s", e.logs)
	}
	if _, err := e.login("alice@example.org", "correct horse", "192.0.2.1"); err != nil {
		t.Errorf("account password refused beside app passwords: %v", err)
	}
	if err := e.st.RemoveAppPassword(ctx, alice.Address, "phone"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.login("alice@example.org", app, "192.0.2.1"); !errors.Is(err, ErrFailed) {
		t.Errorf("revoked app password: %v, want ErrFailed", err)
	}
}

func TestThrottleDelays(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ServiceOptions{Throttle: ThrottleOptions{MaxFailuresPerAccount: 100, MaxFailuresPerIP: 100}})
	e.account("alice@example.org", "correct horse")
	for range 6 {
		if _, err := e.login("alice@example.org", "wrong", "192.0.2.1"); !errors.Is(err, ErrFailed) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second, 8 * time.Second}
	if got := e.clock.Slept(); !slices.Equal(got, want) {
		t.Errorf("delays %v, want %v", got, want)
	}
	// A success clears the account's count: the next failure waits 1s
	// again... except that the IP's count still stands (8s).
	if _, err := e.login("alice@example.org", "correct horse", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	e.login("alice@example.org", "wrong", "192.0.2.99")
	if got := e.clock.Slept(); got[len(got)-1] != time.Second {
		t.Errorf("delay after a success, from a fresh IP: %v, want 1s", got[len(got)-1])
	}
	e.login("alice@example.org", "wrong", "192.0.2.1")
	if got := e.clock.Slept(); got[len(got)-1] != 8*time.Second {
		t.Errorf("delay from the guessing IP after another account's success: %v, want 8s", got[len(got)-1])
	}
	// After the window the counts are forgotten.
	e.clock.Advance(DefaultThrottleWindow + time.Second)
	e.login("alice@example.org", "wrong", "192.0.2.1")
	if got := e.clock.Slept(); got[len(got)-1] != time.Second {
		t.Errorf("delay after the window: %v, want 1s", got[len(got)-1])
	}
}

// TestLockoutAccount: after N failures for one name, the correct password
// is refused within the window, from any IP; after it, it works again.
func TestLockoutAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ServiceOptions{Throttle: ThrottleOptions{MaxFailuresPerAccount: 5, MaxFailuresPerIP: 100, Window: 10 * time.Minute}})
	e.account("alice@example.org", "correct horse")
	for i := range 5 {
		if _, err := e.login("alice@example.org", "guess", "198.51.100."+string(rune('1'+i))); !errors.Is(err, ErrFailed) {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	_, err := e.login("alice@example.org", "correct horse", "192.0.2.200")
	var te *ThrottledError
	if !errors.As(err, &te) {
		t.Fatalf("correct password right after the lockout: %v, want *ThrottledError", err)
	}
	if te.RetryAfter <= 0 || te.RetryAfter > 10*time.Minute {
		t.Errorf("RetryAfter = %v", te.RetryAfter)
	}
	if !strings.Contains(e.logs.String(), "locking out") {
		t.Errorf("lockout not logged:\n%s", e.logs)
	}
	// Other accounts are not affected.
	e.account("bob@example.org", "battery staple")
	if _, err := e.login("bob@example.org", "battery staple", "192.0.2.200"); err != nil {
		t.Errorf("bob locked out by alice's lockout: %v", err)
	}
	e.clock.Advance(te.RetryAfter - time.Second)
	if _, err := e.login("alice@example.org", "correct horse", "192.0.2.200"); !errors.As(err, &te) {
		t.Errorf("1s before the end of the lockout: %v, want *ThrottledError", err)
	}
	e.clock.Advance(2 * time.Second)
	if _, err := e.login("alice@example.org", "correct horse", "192.0.2.200"); err != nil {
		t.Errorf("after the lockout: %v", err)
	}
}

// TestLockoutIP: one IP guessing many names is locked out for every
// name; other IPs are not.
func TestLockoutIP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ServiceOptions{Throttle: ThrottleOptions{MaxFailuresPerAccount: 100, MaxFailuresPerIP: 4}})
	e.account("alice@example.org", "correct horse")
	for _, u := range []string{"a@example.org", "b@example.org", "c@example.org", "d@example.org"} {
		e.login(u, "x", "2001:db8:1:2::10")
	}
	var te *ThrottledError
	// Same /64, another address: still locked.
	if _, err := e.login("alice@example.org", "correct horse", "2001:db8:1:2::99"); !errors.As(err, &te) {
		t.Errorf("same /64 after the IP lockout: %v, want *ThrottledError", err)
	}
	if _, err := e.login("alice@example.org", "correct horse", "2001:db8:1:3::10"); err != nil {
		t.Errorf("another /64: %v", err)
	}
}

func TestIPKey(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ a, b string }{
		{"192.0.2.1", "::ffff:192.0.2.1"},
		{"2001:db8::1", "2001:db8::ffff:1"},
	} {
		if ka, kb := ipKey(parseIP(c.a)), ipKey(parseIP(c.b)); ka != kb {
			t.Errorf("ipKey(%s) = %s, ipKey(%s) = %s; want equal", c.a, ka, c.b, kb)
		}
	}
	if ipKey(parseIP("192.0.2.1")) == ipKey(parseIP("192.0.2.2")) {
		t.Error("two IPv4 addresses share a key")
	}
}

// TestNoSecretsLogged: passwords (and their base64) never reach the log,
// for any outcome and mechanism.
func TestNoSecretsLogged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ServiceOptions{AllowPlaintext: true, Throttle: ThrottleOptions{MaxFailuresPerAccount: 2}})
	e.account("alice@example.org", "correct horse")
	e.login("alice@example.org", "wrong-secret-1", "192.0.2.1")
	e.login("alice@example.org", "correct horse", "192.0.2.1")
	m, _ := e.svc.NewSASL("PLAIN", SASLConn{Protocol: "smtp"})
	m.Next([]byte("\x00alice@example.org\x00wrong-secret-2"))
	m, _ = e.svc.NewSASL("LOGIN", SASLConn{Protocol: "smtp"})
	run(m, nil, []byte("alice@example.org"), []byte("wrong-secret-3"))
	e.login("alice@example.org", "wrong-secret-4", "192.0.2.1") // locked out now
	logs := e.logs.String()
	if !strings.Contains(logs, "login failed") {
		t.Fatalf("no failures logged:\n%s", logs)
	}
	for _, secret := range []string{"correct horse", "wrong-secret", base64.StdEncoding.EncodeToString([]byte("wrong-secret-3"))} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %q:\n%s", secret, logs)
		}
	}
}

func TestMechanisms(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ServiceOptions{})
	if m := e.svc.Mechanisms(false); len(m) != 0 {
		t.Errorf("mechanisms offered without TLS: %v", m)
	}
	if m := e.svc.Mechanisms(true); !slices.Equal(m, []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "PLAIN", "LOGIN"}) {
		t.Errorf("Mechanisms(tls) = %v", m)
	}
	if _, err := e.svc.NewSASL("PLAIN", SASLConn{}); !errors.Is(err, ErrEncryptionRequired) {
		t.Errorf("NewSASL without TLS: %v", err)
	}
	p := newEnv(t, ServiceOptions{AllowPlaintext: true})
	if m := p.svc.Mechanisms(false); !slices.Equal(m, []string{"SCRAM-SHA-256", "PLAIN", "LOGIN"}) {
		t.Errorf("Mechanisms(plain text, allowed) = %v", m)
	}
	if _, err := p.svc.NewSASL("SCRAM-SHA-256-PLUS", SASLConn{}); !errors.Is(err, ErrUnknownMechanism) {
		t.Errorf("-PLUS without TLS: %v", err)
	}
	if _, err := p.svc.NewSASL("CRAM-MD5", SASLConn{}); !errors.Is(err, ErrUnknownMechanism) {
		t.Errorf("CRAM-MD5: %v", err)
	}
}
