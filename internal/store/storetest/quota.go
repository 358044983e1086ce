package storetest

import (
	"fmt"
	"testing"

	"github.com/posthorn/posthorn/internal/store"
)

// testQuota: RFC 9208 STORAGE per account: Usage counts every copy,
// Deliver, Append and Copy refuse to go beyond the quota with
// ErrOverQuota and store nothing then, 0 is unlimited.
func testQuota(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	a := f.account("alice@example.org")
	b := f.account("bob@example.org")
	inbox := f.mailbox(a.ID, store.Inbox).ID
	archive := f.mailbox(a.ID, "Archive").ID
	usage := func(want int64) {
		t.Helper()
		got, err := s.Usage(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("Usage %d, want %d", got, want)
		}
	}
	usage(0)
	if a.QuotaBytes != 0 {
		t.Errorf("new account has quota %d", a.QuotaBytes)
	}
	// One delivery to two of alice's mailboxes and to bob: alice's usage
	// counts both copies.
	f.deliver(store.Delivery{Body: make([]byte, 100), Targets: []store.Target{
		{AccountID: a.ID}, {AccountID: a.ID, Mailbox: "Archive"}, {AccountID: b.ID}}})
	usage(200)
	f.append(inbox, string(make([]byte, 50)))
	usage(250)

	if err := s.SetQuota(ctx, a.Address, 400); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Account(ctx, a.Address); err != nil || got.QuotaBytes != 400 {
		t.Errorf("Account after SetQuota = %+v, %v", got, err)
	}
	if accts, err := s.Accounts(ctx, "example.org"); err != nil || len(accts) != 2 || accts[0].QuotaBytes != 400 || accts[1].QuotaBytes != 0 {
		t.Errorf("Accounts after SetQuota = %+v, %v", accts, err)
	}
	// Exactly up to the quota is allowed.
	f.append(inbox, string(make([]byte, 150)))
	usage(400)
	st := f.status(inbox)
	_, err := s.Append(ctx, inbox, store.AppendOptions{}, []byte("x"))
	wantErr(t, "Append beyond the quota", err, store.ErrOverQuota)
	_, err = s.Deliver(ctx, store.Delivery{Body: []byte("x"), Targets: []store.Target{{AccountID: b.ID}, {AccountID: a.ID}}})
	wantErr(t, "Deliver beyond the quota", err, store.ErrOverQuota)
	_, _, err = s.Copy(ctx, inbox, []uint32{1}, archive)
	wantErr(t, "Copy beyond the quota", err, store.ErrOverQuota)
	if got := f.status(inbox); got != st {
		t.Errorf("refused writes changed INBOX: %+v, was %+v", got, st)
	}
	if msgs := f.messages(f.mailbox(b.ID, store.Inbox).ID); len(msgs) != 1 {
		t.Errorf("a Deliver refused for alice stored for bob: %+v", msgs)
	}
	usage(400)
	// Moving within the account does not grow it.
	if _, _, err := s.Move(ctx, inbox, []uint32{1}, archive); err != nil {
		t.Errorf("Move at the quota: %v", err)
	}
	usage(400)

	// Expunge frees space; so does deleting a mailbox.
	f.setFlags(inbox, []uint32{2}, store.FlagsAdd, `\Deleted`) // the 50-byte one
	f.expunge(inbox, nil)
	usage(350)
	f.append(inbox, string(make([]byte, 50)))
	usage(400)
	if err := s.DeleteMailbox(ctx, a.ID, "Archive"); err != nil {
		t.Fatal(err)
	}
	usage(200)
	// A delivery of two copies counts both against the quota.
	_, err = s.Deliver(ctx, store.Delivery{Body: make([]byte, 150), Targets: []store.Target{{AccountID: a.ID}, {AccountID: a.ID, Mailbox: "Junk"}}})
	wantErr(t, "Deliver of two copies beyond the quota", err, store.ErrOverQuota)
	f.deliver(store.Delivery{Body: make([]byte, 100), Targets: []store.Target{{AccountID: a.ID}, {AccountID: a.ID, Mailbox: "Junk"}}})
	usage(400)

	// Lowering the quota below the usage removes nothing; 0 is unlimited.
	if err := s.SetQuota(ctx, a.Address, 10); err != nil {
		t.Fatal(err)
	}
	usage(400)
	if err := s.SetQuota(ctx, a.Address, 0); err != nil {
		t.Fatal(err)
	}
	f.append(inbox, string(make([]byte, 1000)))
	usage(1400)

	wantErr(t, "SetQuota negative", s.SetQuota(ctx, a.Address, -1), store.ErrInvalid)
	wantErr(t, "SetQuota unknown", s.SetQuota(ctx, "nobody@example.org", 1), store.ErrNotFound)
	_, err = s.Usage(ctx, a.ID+b.ID+1000)
	wantErr(t, "Usage unknown", err, store.ErrNotFound)
	if err := s.RemoveAccount(ctx, b.Address); err != nil {
		t.Fatal(err)
	}
	_, err = s.Usage(ctx, b.ID)
	wantErr(t, "Usage of a removed account", err, store.ErrNotFound)
	if _, err := s.Usage(ctx, a.ID); err != nil {
		t.Error(fmt.Errorf("Usage after another account's removal: %w", err))
	}
}
