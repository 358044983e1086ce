package storetest

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// What submission needs: sender rights, app passwords, the outbound queue.

func testSendAsDomain(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	a := f.account("alice@example.org")
	if a.MaySendAsDomain {
		t.Error("new account may send as its whole domain")
	}
	if err := s.SetMaySendAsDomain(ctx, "alice@example.org", true); err != nil {
		t.Fatal(err)
	}
	got, err := s.Account(ctx, "alice@example.org")
	if err != nil || !got.MaySendAsDomain {
		t.Errorf("Account after SetMaySendAsDomain(true) = %+v, %v", got, err)
	}
	got, _, err = s.Credentials(ctx, "alice@example.org")
	if err != nil || !got.MaySendAsDomain {
		t.Errorf("Credentials after SetMaySendAsDomain(true) = %+v, %v", got, err)
	}
	if err := s.SetMaySendAsDomain(ctx, "alice@example.org", false); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Account(ctx, "alice@example.org"); got.MaySendAsDomain {
		t.Error("SetMaySendAsDomain(false) did not take the right back")
	}
	wantErr(t, "SetMaySendAsDomain unknown", s.SetMaySendAsDomain(ctx, "nobody@example.org", true), store.ErrNotFound)
}

func testAppPasswords(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	f.account("alice@example.org")
	f.account("bob@example.org")
	if ps, err := s.AppPasswords(ctx, "alice@example.org"); err != nil || len(ps) != 0 {
		t.Errorf("AppPasswords of a new account = %v, %v", ps, err)
	}
	_, err := s.AppPasswords(ctx, "nobody@example.org")
	wantErr(t, "AppPasswords unknown account", err, store.ErrNotFound)

	before := time.Now().Add(-time.Second)
	p, err := s.AddAppPassword(ctx, "alice@example.org", "phone", store.Credentials{PasswordHash: "hash-phone"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "phone" || p.Created.Before(before) || p.Credentials.PasswordHash != "hash-phone" {
		t.Errorf("AddAppPassword = %+v", p)
	}
	if _, err := s.AddAppPassword(ctx, "alice@example.org", "laptop", store.Credentials{PasswordHash: "hash-laptop"}); err != nil {
		t.Fatal(err)
	}
	// The same name on another account is another password.
	if _, err := s.AddAppPassword(ctx, "bob@example.org", "phone", store.Credentials{PasswordHash: "hash-bob"}); err != nil {
		t.Fatal(err)
	}
	_, err = s.AddAppPassword(ctx, "alice@example.org", "phone", store.Credentials{PasswordHash: "x"})
	wantErr(t, "AddAppPassword duplicate name", err, store.ErrExists)
	_, err = s.AddAppPassword(ctx, "nobody@example.org", "phone", store.Credentials{PasswordHash: "x"})
	wantErr(t, "AddAppPassword unknown account", err, store.ErrNotFound)
	_, err = s.AddAppPassword(ctx, "alice@example.org", "", store.Credentials{PasswordHash: "x"})
	wantErr(t, "AddAppPassword empty name", err, store.ErrInvalid)
	_, err = s.AddAppPassword(ctx, "alice@example.org", "tablet", store.Credentials{})
	wantErr(t, "AddAppPassword without hash", err, store.ErrInvalid)

	list := func(addr string) (names, hashes []string) {
		t.Helper()
		ps, err := s.AppPasswords(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			names = append(names, p.Name)
			hashes = append(hashes, p.Credentials.PasswordHash)
		}
		return names, hashes
	}
	names, hashes := list("alice@example.org")
	if !slices.Equal(names, []string{"laptop", "phone"}) || !slices.Equal(hashes, []string{"hash-laptop", "hash-phone"}) {
		t.Errorf("AppPasswords = %v %v, want laptop and phone in name order", names, hashes)
	}

	if err := s.RemoveAppPassword(ctx, "alice@example.org", "phone"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "RemoveAppPassword twice", s.RemoveAppPassword(ctx, "alice@example.org", "phone"), store.ErrNotFound)
	wantErr(t, "RemoveAppPassword unknown account", s.RemoveAppPassword(ctx, "nobody@example.org", "laptop"), store.ErrNotFound)
	if names, _ := list("alice@example.org"); !slices.Equal(names, []string{"laptop"}) {
		t.Errorf("after removing phone: %v", names)
	}
	if names, _ := list("bob@example.org"); !slices.Equal(names, []string{"phone"}) {
		t.Errorf("removing alice's phone touched bob's: %v", names)
	}

	// Removing the account removes its app passwords: a new account of the
	// same address starts with none.
	if err := s.RemoveAccount(ctx, "alice@example.org"); err != nil {
		t.Fatal(err)
	}
	f.account("alice@example.org")
	if names, _ := list("alice@example.org"); len(names) != 0 {
		t.Errorf("app passwords survived their account: %v", names)
	}
}

func testQueue(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	if ms, err := s.QueuedMessages(ctx, 0); err != nil || len(ms) != 0 {
		t.Fatalf("QueuedMessages of an empty queue = %v, %v", ms, err)
	}
	a := f.account("alice@example.org")
	buf := body(5000, "queued")
	want := bytes.Clone(buf)
	id1, err := s.Enqueue(ctx, store.QueuedMessage{
		From: "alice@example.org", Recipients: []string{"x@remote.test", "y@other.test"},
		Body: buf, AccountID: a.ID,
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] = 'Z' // the caller reuses its buffer
	}
	id2, err := s.Enqueue(ctx, store.QueuedMessage{Recipients: []string{"ü@remote.test"}, Body: []byte{}, UTF8: true, RequireTLS: true})
	if err != nil {
		t.Fatal(err)
	}
	if id1 == 0 || id2 <= id1 {
		t.Errorf("queue IDs %d, %d: want positive and growing", id1, id2)
	}
	_, err = s.Enqueue(ctx, store.QueuedMessage{From: "a@b.test", Body: []byte("x")})
	wantErr(t, "Enqueue without recipients", err, store.ErrInvalid)

	ms, err := s.QueuedMessages(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 {
		t.Fatalf("QueuedMessages = %+v, want 2", ms)
	}
	m := ms[0]
	if m.ID != id1 || m.From != "alice@example.org" || !slices.Equal(m.Recipients, []string{"x@remote.test", "y@other.test"}) ||
		m.AccountID != a.ID || m.UTF8 || m.RequireTLS || m.Size != int64(len(want)) || m.Queued.IsZero() || m.NextAttempt.Before(m.Queued) ||
		m.Attempts != 0 || m.Body != nil {
		t.Errorf("QueuedMessages[0] = %+v", m)
	}
	if m := ms[1]; m.ID != id2 || m.From != "" || !m.UTF8 || !m.RequireTLS || m.AccountID != 0 || !slices.Equal(m.Recipients, []string{"ü@remote.test"}) {
		t.Errorf("QueuedMessages[1] = %+v", m)
	}
	if ms, _ := s.QueuedMessages(ctx, 1); len(ms) != 1 || ms[0].ID != id1 {
		t.Errorf("QueuedMessages(limit 1) = %+v", ms)
	}
	got, err := s.QueuedBody(ctx, id1)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("QueuedBody = %d bytes, %v; want the %d bytes enqueued", len(got), err, len(want))
	}
	if got, err := s.QueuedBody(ctx, id2); err != nil || got == nil || len(got) != 0 {
		t.Errorf("QueuedBody of an empty message = %q, %v", got, err)
	}
	_, err = s.QueuedBody(ctx, id2+100)
	wantErr(t, "QueuedBody unknown", err, store.ErrNotFound)

	// Queued mail outlives the account that sent it.
	if err := s.RemoveAccount(ctx, "alice@example.org"); err != nil {
		t.Fatal(err)
	}
	if ms, _ := s.QueuedMessages(ctx, 0); len(ms) != 2 {
		t.Errorf("removing the sender's account removed queued mail: %d left", len(ms))
	}
}
