package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// loginsLogged counts the successful logins in the log that matched the
// password with an argon2id run and those served from the cache.
func loginsLogged(e *env) (hashed, cached int) {
	for _, line := range strings.Split(e.logs.String(), "\n") {
		switch {
		case !strings.Contains(line, `msg="auth: login"`):
		case strings.Contains(line, `(cached)"`):
			cached++
		default:
			hashed++
		}
	}
	return hashed, cached
}

func TestLoginCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, ServiceOptions{LoginCacheTTL: 10 * time.Minute})
	alice := e.account("alice@example.org", "correct horse")
	for range 3 {
		if _, err := e.login("alice@example.org", "correct horse", "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
	}
	if h, c := loginsLogged(e); h != 1 || c != 2 {
		t.Fatalf("3 logins: %d hashed, %d from the cache; want 1 and 2\n%s", h, c, e.logs)
	}
	// A wrong password is never served from the cache.
	if _, err := e.login("alice@example.org", "correct horsE", "192.0.2.1"); !errors.Is(err, ErrFailed) {
		t.Fatalf("wrong password after a cached login: %v", err)
	}
	// Another account with the same password is its own entry.
	e.account("bob@example.org", "correct horse")
	if _, err := e.login("bob@example.org", "correct horse", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if h, _ := loginsLogged(e); h != 2 {
		t.Errorf("bob's first login came from alice's cache entry")
	}

	// A password change ends the cached check at once.
	cred, err := NewCredentials("battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetCredentials(ctx, alice.Address, cred); err != nil {
		t.Fatal(err)
	}
	if _, err := e.login("alice@example.org", "correct horse", "192.0.2.1"); !errors.Is(err, ErrFailed) {
		t.Fatalf("old password after a change: %v, want ErrFailed", err)
	}
	if _, err := e.login("alice@example.org", "battery staple", "192.0.2.1"); err != nil {
		t.Fatalf("new password: %v", err)
	}

	// Entries expire.
	before, _ := loginsLogged(e)
	e.clock.Advance(11 * time.Minute)
	if _, err := e.login("alice@example.org", "battery staple", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if after, _ := loginsLogged(e); after != before+1 {
		t.Errorf("login after the TTL was not checked again (hashed %d -> %d)", before, after)
	}
}

func TestLoginCacheAppPasswordRevoked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, ServiceOptions{LoginCacheTTL: time.Hour})
	alice := e.account("alice@example.org", "correct horse")
	app := GeneratePassword()
	hash, err := HashPassword(app)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.AddAppPassword(ctx, alice.Address, "phone", storeCred(hash)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := e.login("alice@example.org", app, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
	}
	if _, c := loginsLogged(e); c != 1 {
		t.Fatalf("second app-password login not cached:\n%s", e.logs)
	}
	if err := e.st.RemoveAppPassword(ctx, alice.Address, "phone"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.login("alice@example.org", app, "192.0.2.1"); !errors.Is(err, ErrFailed) {
		t.Fatalf("revoked app password: %v, want ErrFailed", err)
	}
}

func TestLoginCacheOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ServiceOptions{})
	e.account("alice@example.org", "correct horse")
	for range 2 {
		if _, err := e.login("alice@example.org", "correct horse", "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
	}
	if h, c := loginsLogged(e); h != 2 || c != 0 {
		t.Fatalf("cache off: %d hashed, %d cached; want 2 and 0", h, c)
	}
}

func TestLoginCacheBounded(t *testing.T) {
	c := newLoginCache(time.Hour)
	c.max = 100
	now := time.Unix(1e9, 0)
	for i := range 1000 {
		c.add("u", strings.Repeat("x", i+1), "h", "password", now)
	}
	if n := len(c.entries); n > 100 {
		t.Fatalf("cache holds %d entries, bound 100", n)
	}
	if _, ok := c.lookup("u", strings.Repeat("x", 1000), now, func(string) bool { return true }); !ok {
		t.Fatal("latest entry evicted")
	}
}

// Logins that queue for a hash slot look in the cache again once they have
// one: a client opening many connections at once costs one argon2id run.
func TestLoginCacheConcurrentLogins(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ServiceOptions{LoginCacheTTL: time.Hour, MaxConcurrentHashes: 1})
	e.account("alice@example.org", "correct horse")
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := e.login("alice@example.org", "correct horse", "192.0.2.1")
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if h, c := loginsLogged(e); h != 1 || c != 7 {
		t.Fatalf("8 concurrent logins: %d hashed, %d from the cache; want 1 and 7\n%s", h, c, e.logs)
	}
}
