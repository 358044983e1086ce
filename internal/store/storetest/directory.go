package storetest

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/posthorn/posthorn/internal/store"
)

func testDomains(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	f.domain("example.org")
	f.domain("example.com")
	wantErr(t, "AddDomain duplicate", s.AddDomain(ctx, "example.org"), store.ErrExists)
	wantErr(t, "AddDomain empty", s.AddDomain(ctx, ""), store.ErrInvalid)

	doms, err := s.Domains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range doms {
		names = append(names, d.Name)
		if d.Created.IsZero() {
			t.Errorf("domain %s: zero Created", d.Name)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"example.com", "example.org"}) {
		t.Errorf("Domains = %v", names)
	}

	for name, want := range map[string]bool{"example.org": true, "example.net": false, "sub.example.org": false} {
		if ok, err := s.HasDomain(ctx, name); err != nil || ok != want {
			t.Errorf("HasDomain(%q) = %v, %v; want %v", name, ok, err, want)
		}
	}

	if err := s.RemoveDomain(ctx, "example.com"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.HasDomain(ctx, "example.com"); ok {
		t.Error("HasDomain after RemoveDomain = true")
	}
	wantErr(t, "RemoveDomain unknown", s.RemoveDomain(ctx, "example.com"), store.ErrNotFound)
	f.domain("example.com") // can come back
}

func testAccounts(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	_, err := s.AddAccount(ctx, "alice@example.org", store.Credentials{})
	wantErr(t, "AddAccount before its domain", err, store.ErrUnknownDomain)
	f.domain("example.org")
	f.domain("example.com")
	_, err = s.AddAccount(ctx, "alice.example.org", store.Credentials{})
	wantErr(t, "AddAccount without @", err, store.ErrInvalid)

	alice := f.account("alice@example.org")
	if alice.ID == 0 || alice.Address != "alice@example.org" || alice.Domain != "example.org" || alice.Created.IsZero() {
		t.Errorf("AddAccount = %+v", alice)
	}
	bob := f.account("bob@example.org")
	carol := f.account("carol@example.com")
	if alice.ID == bob.ID || bob.ID == carol.ID {
		t.Errorf("account IDs not distinct: %d %d %d", alice.ID, bob.ID, carol.ID)
	}
	_, err = s.AddAccount(ctx, "alice@example.org", store.Credentials{})
	wantErr(t, "AddAccount duplicate", err, store.ErrExists)

	got, err := s.Account(ctx, "alice@example.org")
	if err != nil || got.ID != alice.ID || got.Address != alice.Address || got.Domain != alice.Domain || !got.Created.Equal(alice.Created) {
		t.Errorf("Account = %+v, %v; want %+v", got, err, alice)
	}
	_, err = s.Account(ctx, "nobody@example.org")
	wantErr(t, "Account unknown", err, store.ErrNotFound)

	addrs := func(domain string) []string {
		t.Helper()
		accts, err := s.Accounts(ctx, domain)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, a := range accts {
			out = append(out, a.Address)
		}
		slices.Sort(out)
		return out
	}
	if got := addrs("example.org"); !slices.Equal(got, []string{"alice@example.org", "bob@example.org"}) {
		t.Errorf("Accounts(example.org) = %v", got)
	}
	if got := addrs(""); !slices.Equal(got, []string{"alice@example.org", "bob@example.org", "carol@example.com"}) {
		t.Errorf("Accounts(\"\") = %v", got)
	}
	if got := addrs("example.net"); len(got) != 0 {
		t.Errorf("Accounts(unknown domain) = %v", got)
	}

	if err := s.RemoveAccount(ctx, "bob@example.org"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Account(ctx, "bob@example.org")
	wantErr(t, "Account after RemoveAccount", err, store.ErrNotFound)
	wantErr(t, "RemoveAccount again", s.RemoveAccount(ctx, "bob@example.org"), store.ErrNotFound)
	if mbs, _ := s.Mailboxes(ctx, bob.ID); len(mbs) != 0 {
		t.Errorf("removed account still has mailboxes %v", mbs)
	}
	// The address is free again, as a new account.
	bob2 := f.account("bob@example.org")
	if bob2.ID == bob.ID {
		t.Errorf("recreated account reuses ID %d", bob.ID)
	}
}

func testCredentials(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	f.domain("example.org")
	cred := store.Credentials{
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
		SCRAM: store.SCRAMKeys{
			Salt:       []byte("salt\x00\xff"),
			Iterations: 4096,
			StoredKey:  bytes.Repeat([]byte{1}, 32),
			ServerKey:  bytes.Repeat([]byte{2}, 32),
		},
	}
	a, err := s.AddAccount(ctx, "alice@example.org", cred)
	if err != nil {
		t.Fatal(err)
	}
	check := func(want store.Credentials) {
		t.Helper()
		got, c, err := s.Credentials(ctx, "alice@example.org")
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != a.ID || got.Address != a.Address {
			t.Errorf("Credentials account = %+v, want %+v", got, a)
		}
		if c.PasswordHash != want.PasswordHash || c.SCRAM.Iterations != want.SCRAM.Iterations ||
			!bytes.Equal(c.SCRAM.Salt, want.SCRAM.Salt) || !bytes.Equal(c.SCRAM.StoredKey, want.SCRAM.StoredKey) ||
			!bytes.Equal(c.SCRAM.ServerKey, want.SCRAM.ServerKey) {
			t.Errorf("Credentials = %+v, want %+v", c, want)
		}
	}
	check(cred)
	cred2 := store.Credentials{PasswordHash: "new", SCRAM: store.SCRAMKeys{Salt: []byte("s2"), Iterations: 8192,
		StoredKey: []byte("k1"), ServerKey: []byte("k2")}}
	if err := s.SetCredentials(ctx, "alice@example.org", cred2); err != nil {
		t.Fatal(err)
	}
	check(cred2)
	wantErr(t, "SetCredentials unknown", s.SetCredentials(ctx, "bob@example.org", cred2), store.ErrNotFound)
	_, _, err = s.Credentials(ctx, "bob@example.org")
	wantErr(t, "Credentials unknown", err, store.ErrNotFound)
}

func testDefaultMailboxes(t *testing.T, f *fixture) {
	a := f.account("alice@example.org")
	mbs, err := f.s.Mailboxes(f.ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(mbs) != len(store.DefaultMailboxes) {
		t.Fatalf("new account has %d mailboxes, want %d: %+v", len(mbs), len(store.DefaultMailboxes), mbs)
	}
	byName := map[string]store.Mailbox{}
	ids := map[int64]bool{}
	for _, mb := range mbs {
		byName[mb.Name] = mb
		ids[mb.ID] = true
		if mb.AccountID != a.ID || mb.UIDValidity == 0 {
			t.Errorf("mailbox %+v", mb)
		}
	}
	if len(ids) != len(mbs) {
		t.Errorf("mailbox IDs not distinct: %+v", mbs)
	}
	for _, dm := range store.DefaultMailboxes {
		mb, ok := byName[dm.Name]
		if !ok {
			t.Errorf("default mailbox %s missing", dm.Name)
			continue
		}
		if mb.SpecialUse != dm.Use {
			t.Errorf("%s special use %q, want %q", dm.Name, mb.SpecialUse, dm.Use)
		}
		if dm.Name == store.Inbox && !mb.Subscribed {
			t.Error("INBOX not subscribed")
		}
		if got := f.mailbox(a.ID, dm.Name); got != mb {
			t.Errorf("Mailbox(%s) = %+v, Mailboxes has %+v", dm.Name, got, mb)
		}
	}
}

func testAliases(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	f.account("alice@example.org")
	f.account("bob@example.org")
	f.account("carol@example.com")

	wantErr(t, "AddAlias unknown domain", s.AddAlias(ctx, "info@example.net", []string{"alice@example.org"}), store.ErrUnknownDomain)
	wantErr(t, "AddAlias without @", s.AddAlias(ctx, "info", []string{"alice@example.org"}), store.ErrInvalid)
	wantErr(t, "AddAlias no targets", s.AddAlias(ctx, "info@example.org", nil), store.ErrInvalid)
	wantErr(t, "AddAlias unknown target", s.AddAlias(ctx, "info@example.org", []string{"nobody@example.org"}), store.ErrNotFound)
	if _, err := s.Alias(ctx, "info@example.org"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("failed AddAlias left an alias behind (%v)", err)
	}

	targets := []string{"bob@example.org", "carol@example.com"}
	if err := s.AddAlias(ctx, "team@example.org", targets); err != nil {
		t.Fatal(err)
	}
	if err := s.AddAlias(ctx, "@example.org", []string{"alice@example.org"}); err != nil {
		t.Fatalf("catch-all: %v", err)
	}
	if err := s.AddAlias(ctx, "sales@example.com", []string{"alice@example.org"}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "AddAlias duplicate", s.AddAlias(ctx, "team@example.org", []string{"alice@example.org"}), store.ErrExists)

	al, err := s.Alias(ctx, "team@example.org")
	if err != nil || al.Address != "team@example.org" || !slices.Equal(al.Targets, targets) {
		t.Errorf("Alias = %+v, %v", al, err)
	}
	_, err = s.Alias(ctx, "nobody@example.org")
	wantErr(t, "Alias unknown", err, store.ErrNotFound)

	list := func(domain string) []string {
		t.Helper()
		als, err := s.Aliases(ctx, domain)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, a := range als {
			out = append(out, a.Address)
			if len(a.Targets) == 0 {
				t.Errorf("Aliases: %s without targets", a.Address)
			}
		}
		slices.Sort(out)
		return out
	}
	if got := list("example.org"); !slices.Equal(got, []string{"@example.org", "team@example.org"}) {
		t.Errorf("Aliases(example.org) = %v", got)
	}
	if got := list(""); len(got) != 3 {
		t.Errorf("Aliases(\"\") = %v", got)
	}

	if err := s.RemoveAlias(ctx, "team@example.org"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Alias(ctx, "team@example.org")
	wantErr(t, "Alias after RemoveAlias", err, store.ErrNotFound)
	wantErr(t, "RemoveAlias again", s.RemoveAlias(ctx, "team@example.org"), store.ErrNotFound)
}

func testAliasAccountClash(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	f.account("alice@example.org")
	wantErr(t, "alias with an account's address", s.AddAlias(ctx, "alice@example.org", []string{"alice@example.org"}), store.ErrExists)
	if err := s.AddAlias(ctx, "info@example.org", []string{"alice@example.org"}); err != nil {
		t.Fatal(err)
	}
	_, err := s.AddAccount(ctx, "info@example.org", store.Credentials{})
	wantErr(t, "account with an alias's address", err, store.ErrExists)
}

func testRemoveDomainNotEmpty(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	f.account("alice@example.org")
	f.account("bob@example.com")
	wantErr(t, "RemoveDomain with an account", s.RemoveDomain(ctx, "example.org"), store.ErrDomainNotEmpty)

	// An alias alone keeps a domain too, even pointing elsewhere.
	if err := s.AddAlias(ctx, "@example.org", []string{"bob@example.com"}); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveAccount(ctx, "alice@example.org"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "RemoveDomain with an alias", s.RemoveDomain(ctx, "example.org"), store.ErrDomainNotEmpty)
	if err := s.RemoveAlias(ctx, "@example.org"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveDomain(ctx, "example.org"); err != nil {
		t.Fatalf("RemoveDomain once empty: %v", err)
	}
	if ok, _ := s.HasDomain(ctx, "example.com"); !ok {
		t.Error("other domain gone")
	}
}

func testResolve(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	alice := f.account("alice@example.org")
	bob := f.account("bob@example.org")
	carol := f.account("carol@example.com")
	dave := f.account("dave@example.org")
	f.domain("example.net")
	zed := f.account("zed@example.edu") // older than amy, later by name
	f.account("amy@example.edu")
	for addr, targets := range map[string][]string{
		"team@example.org":     {"alice@example.org", "bob@example.org", "alice@example.org"},
		"both@example.org":     {"bob@example.org", "carol@example.com"},
		"@example.com":         {"carol@example.com"},
		"gone@example.org":     {"dave@example.org", "alice@example.org"},
		"all-gone@example.org": {"dave@example.org"},
	} {
		if err := s.AddAlias(ctx, addr, targets); err != nil {
			t.Fatalf("AddAlias(%s): %v", addr, err)
		}
	}
	if err := s.RemoveAccount(ctx, "dave@example.org"); err != nil {
		t.Fatal(err)
	}
	_ = dave

	ids := func(accts []store.Account) []int64 {
		var out []int64
		for _, a := range accts {
			out = append(out, a.ID)
		}
		slices.Sort(out)
		return out
	}
	sorted := func(v ...int64) []int64 { slices.Sort(v); return v }
	tests := []struct {
		local, domain, sep string
		want               []int64
		err                error
	}{
		{"alice", "example.org", "+", []int64{alice.ID}, nil},
		{"team", "example.org", "+", sorted(alice.ID, bob.ID), nil},
		{"both", "example.org", "+", sorted(bob.ID, carol.ID), nil},
		{"alice+lists", "example.org", "+", []int64{alice.ID}, nil},
		{"team+x", "example.org", "+", sorted(alice.ID, bob.ID), nil},
		{"alice+lists", "example.org", "", nil, store.ErrNotFound},
		{"alice-lists", "example.org", "-", []int64{alice.ID}, nil},
		{"+alice", "example.org", "+", nil, store.ErrNotFound},
		{"anyone", "example.com", "+", []int64{carol.ID}, nil},
		{"carol+tag", "example.com", "+", []int64{carol.ID}, nil},
		{"nobody", "example.org", "+", nil, store.ErrNotFound},
		{"nobody", "example.net", "+", nil, store.ErrNotFound},
		{"alice", "example.invalid", "+", nil, store.ErrUnknownDomain},
		{"gone", "example.org", "+", []int64{alice.ID}, nil},
		{"all-gone", "example.org", "+", nil, store.ErrNotFound},
		// postmaster@ (RFC 5321 §4.5.1): the oldest account without an
		// alias or catch-all; none in a domain without accounts.
		{"postmaster", "example.org", "+", []int64{alice.ID}, nil},
		{"postmaster", "example.com", "+", []int64{carol.ID}, nil},
		{"postmaster", "example.net", "+", nil, store.ErrNotFound},
		{"postmaster", "example.edu", "+", []int64{zed.ID}, nil},
	}
	for _, tc := range tests {
		got, err := store.Resolve(ctx, s, tc.local, tc.domain, tc.sep)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("Resolve(%s@%s, %q) = %v, %v; want error %v", tc.local, tc.domain, tc.sep, ids(got), err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(ids(got), tc.want) {
			t.Errorf("Resolve(%s@%s, %q) = %v, %v; want %v", tc.local, tc.domain, tc.sep, ids(got), err, tc.want)
		}
	}
}
