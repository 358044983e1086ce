package postgres

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/testutil/poll"
)

// dirView is what the SMTP path's directory reads answer for one
// address: the domain, the account, the alias, the login.
type dirView struct {
	domain  bool
	account bool
	quota   int64
	sendAs  bool
	targets []string
	hash    string
}

func (v dirView) equal(w dirView) bool {
	return v.domain == w.domain && v.account == w.account && v.quota == w.quota &&
		v.sendAs == w.sendAs && slices.Equal(v.targets, w.targets) && v.hash == w.hash
}

// viewDir reads address through s's directory methods, and reports
// whether every answer came from the cache.
func viewDir(t *testing.T, s *Store, domain, address string) (dirView, bool) {
	t.Helper()
	ctx := t.Context()
	gen, live := s.caches.gen.current()
	hits := true
	for _, k := range []dirKey{{'d', domain}, {'a', address}, {'l', address}, {'c', address}} {
		if _, ok := s.caches.directory.get(gen, live, k); !ok {
			hits = false
		}
	}
	var v dirView
	var err error
	if v.domain, err = s.HasDomain(ctx, domain); err != nil {
		t.Fatal(err)
	}
	a, err := s.Account(ctx, address)
	if err == nil {
		v.account, v.quota, v.sendAs = true, a.QuotaBytes, a.MaySendAsDomain
	} else if !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	al, err := s.Alias(ctx, address)
	if err == nil {
		v.targets = al.Targets
	} else if !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	_, c, err := s.Credentials(ctx, address)
	if err == nil {
		v.hash = c.PasswordHash
	} else if !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	return v, hits
}

// waitDirCached reads address on s until the answers come from the
// cache (an earlier change's notification may still move the generation
// on), bounded, and returns them.
func waitDirCached(t *testing.T, s *Store, domain, address string) dirView {
	t.Helper()
	var v dirView
	poll.Until(t, 10*time.Second, address+" cached", func() bool {
		var hit bool
		v, hit = viewDir(t, s, domain, address)
		return hit
	})
	return v
}

// TestDirectoryCacheAcrossNodes: with every answer cached on both nodes
// first, a change on node a is seen by a at once and by b within a
// bounded wait: domain added, account added, quota, send-as, password,
// alias added and changed, a change made in SQL by another client, and
// the removals.
func TestDirectoryCacheAcrossNodes(t *testing.T) {
	a, b := twoNodes(t)
	ctx := t.Context()
	const domain, addr = "example.org", "u@example.org"
	// step makes a change through node a's Store (a reads it at once) or,
	// sql, as another client (both nodes within a bounded wait).
	step := func(what string, change func() error, want dirView) {
		t.Helper()
		sql := strings.Contains(what, "SQL")
		before := waitDirCached(t, b, domain, addr)
		waitDirCached(t, a, domain, addr)
		if before.equal(want) {
			t.Fatalf("%s: already %+v before the change", what, want)
		}
		if err := change(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got, _ := viewDir(t, a, domain, addr); !sql && !got.equal(want) {
			t.Errorf("%s: the writing node reads %+v, want %+v", what, got, want)
		}
		for _, n := range []*Store{a, b} {
			poll.Until(t, 10*time.Second, what+" seen by both nodes", func() bool {
				got, _ := viewDir(t, n, domain, addr)
				return got.equal(want)
			})
		}
	}
	v := dirView{}
	v.domain = true
	step("domain added", func() error { return a.AddDomain(ctx, domain) }, v)
	v.account, v.hash = true, "h1"
	step("account added", func() error {
		_, err := a.AddAccount(ctx, addr, store.Credentials{PasswordHash: "h1"})
		return err
	}, v)
	v.quota = 5000
	step("quota", func() error { return a.SetQuota(ctx, addr, 5000) }, v)
	v.sendAs = true
	step("send as domain", func() error { return a.SetMaySendAsDomain(ctx, addr, true) }, v)
	v.hash = "h2"
	step("password", func() error { return a.SetCredentials(ctx, addr, store.Credentials{PasswordHash: "h2"}) }, v)
	v.quota = 7000
	step("quota set in SQL by another client", func() error {
		_, err := a.pool.Exec(ctx, `UPDATE accounts SET quota_bytes = 7000 WHERE address = $1`, addr)
		return err
	}, v)

	// An alias is a different address of the same domain.
	const alias = "al@example.org"
	if _, err := a.AddAccount(ctx, "v@example.org", store.Credentials{}); err != nil {
		t.Fatal(err)
	}
	aliasStep := func(what string, change func() error, want []string) {
		t.Helper()
		waitDirCached(t, b, domain, alias)
		waitDirCached(t, a, domain, alias)
		if err := change(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		sql := strings.Contains(what, "SQL")
		if got, _ := viewDir(t, a, domain, alias); !sql && !slices.Equal(got.targets, want) {
			t.Errorf("%s: the writing node reads targets %v, want %v", what, got.targets, want)
		}
		for _, n := range []*Store{a, b} {
			poll.Until(t, 10*time.Second, what+" seen by both nodes", func() bool {
				got, _ := viewDir(t, n, domain, alias)
				return slices.Equal(got.targets, want)
			})
		}
	}
	aliasStep("alias added", func() error { return a.AddAlias(ctx, alias, []string{addr}) }, []string{addr})
	aliasStep("alias target changed in SQL", func() error {
		_, err := a.pool.Exec(ctx, `UPDATE alias_targets SET address = 'v@example.org'`)
		return err
	}, []string{"v@example.org"})
	// Resolve on b follows the alias to the new target.
	poll.Until(t, 10*time.Second, "node b resolves the alias to v", func() bool {
		accts, err := store.Resolve(ctx, b, "al", domain, "+")
		return err == nil && len(accts) == 1 && accts[0].Address == "v@example.org"
	})
	aliasStep("alias removed", func() error { return a.RemoveAlias(ctx, alias) }, nil)
	if err := a.RemoveAccount(ctx, "v@example.org"); err != nil {
		t.Fatal(err)
	}

	v.account, v.quota, v.sendAs, v.hash = false, 0, false, ""
	step("account removed", func() error { return a.RemoveAccount(ctx, addr) }, v)
	v.domain = false
	step("domain removed", func() error { return a.RemoveDomain(ctx, domain) }, v)
	if _, err := store.Resolve(ctx, b, "u", domain, "+"); !errors.Is(err, store.ErrUnknownDomain) {
		t.Errorf("node b resolves for a removed domain: %v", err)
	}
}

// TestDirectoryCacheListenerLost: a node whose listener connection is
// cut caches nothing until it is back, and then starts empty, so a
// change committed meanwhile (its notification lost) is not hidden.
func TestDirectoryCacheListenerLost(t *testing.T) {
	a, b := twoNodes(t)
	ctx := t.Context()
	const domain, addr = "example.org", "u@example.org"
	addDomainSQL(t, a, domain)
	if _, err := a.AddAccount(ctx, addr, store.Credentials{PasswordHash: "old"}); err != nil {
		t.Fatal(err)
	}
	if v := waitDirCached(t, b, domain, addr); v.hash != "old" {
		t.Fatalf("node b reads %+v", v)
	}
	pid := b.caches.listenerPID.Load()
	if pid == 0 {
		t.Fatal("no listener pid")
	}
	if _, err := a.pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, int32(pid)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.pool.Exec(ctx, `UPDATE accounts SET password_hash = 'new', quota_bytes = 9 WHERE address = $1`, addr); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 20*time.Second, "node b reconnects its listener", func() bool {
		p := b.caches.listenerPID.Load()
		return p != 0 && p != pid
	})
	if v, _ := viewDir(t, b, domain, addr); v.hash != "new" || v.quota != 9 {
		t.Errorf("after the listener came back, node b reads %+v (stale)", v)
	}
	// And it caches again.
	if v := waitDirCached(t, b, domain, addr); v.hash != "new" {
		t.Errorf("node b caches %+v", v)
	}
}
