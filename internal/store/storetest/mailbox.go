package storetest

import (
	"errors"
	"slices"
	"testing"

	"github.com/posthorn/posthorn/internal/store"
)

func testCreateMailbox(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	a := f.account("alice@example.org")
	b := f.account("bob@example.org")

	mb, err := s.CreateMailbox(ctx, a.ID, "Receipts", store.UseArchive)
	if err != nil {
		t.Fatal(err)
	}
	if mb.ID == 0 || mb.AccountID != a.ID || mb.Name != "Receipts" || mb.SpecialUse != store.UseArchive || mb.UIDValidity == 0 || mb.Subscribed {
		t.Errorf("CreateMailbox = %+v", mb)
	}
	if got := f.mailbox(a.ID, "Receipts"); got != mb {
		t.Errorf("Mailbox = %+v, want %+v", got, mb)
	}
	nested := f.create(a.ID, "Receipts/2024")
	if nested.ID == mb.ID {
		t.Error("nested mailbox shares the parent's ID")
	}
	// Names are per account.
	if _, err := s.CreateMailbox(ctx, b.ID, "Receipts", store.UseNone); err != nil {
		t.Errorf("same name in another account: %v", err)
	}

	_, err = s.CreateMailbox(ctx, a.ID, "Receipts", store.UseNone)
	wantErr(t, "CreateMailbox duplicate", err, store.ErrExists)
	_, err = s.CreateMailbox(ctx, a.ID, "INBOX", store.UseNone)
	wantErr(t, "CreateMailbox INBOX", err, store.ErrExists)
	_, err = s.CreateMailbox(ctx, a.ID, "inbox", store.UseNone)
	wantErr(t, "CreateMailbox inbox (INBOX is case-insensitive)", err, store.ErrExists)
	_, err = s.CreateMailbox(ctx, a.ID, "", store.UseNone)
	wantErr(t, "CreateMailbox empty name", err, store.ErrInvalid)
	_, err = s.CreateMailbox(ctx, a.ID+b.ID+1000, "X", store.UseNone)
	wantErr(t, "CreateMailbox unknown account", err, store.ErrNotFound)

	if got := f.mailbox(a.ID, "inbox"); got.Name != store.Inbox {
		t.Errorf("Mailbox(inbox) = %+v, want INBOX", got)
	}
	_, err = s.Mailbox(ctx, a.ID, "Nope")
	wantErr(t, "Mailbox unknown", err, store.ErrNotFound)

	mbs, err := s.Mailboxes(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(mbs) != len(store.DefaultMailboxes)+2 {
		t.Errorf("Mailboxes = %+v", mbs)
	}
}

func testRenameMailbox(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	a := f.account("alice@example.org")
	proj := f.create(a.ID, "Projects")
	child := f.create(a.ID, "Projects/A")
	grandchild := f.create(a.ID, "Projects/A/B")
	sibling := f.create(a.ID, "ProjectsX")
	m := f.append(proj.ID, "hello")

	if err := s.RenameMailbox(ctx, a.ID, "Projects", "Work"); err != nil {
		t.Fatal(err)
	}
	for old, name := range map[store.Mailbox]string{proj: "Work", child: "Work/A", grandchild: "Work/A/B", sibling: "ProjectsX"} {
		got, err := s.Mailbox(ctx, a.ID, name)
		if err != nil {
			t.Errorf("after rename, Mailbox(%s): %v", name, err)
			continue
		}
		if got.ID != old.ID || got.UIDValidity != old.UIDValidity {
			t.Errorf("rename changed %s: %+v -> %+v", old.Name, old, got)
		}
	}
	for _, name := range []string{"Projects", "Projects/A", "Projects/A/B"} {
		_, err := s.Mailbox(ctx, a.ID, name)
		wantErr(t, "old name "+name+" after rename", err, store.ErrNotFound)
	}
	if msgs := f.messages(proj.ID); len(msgs) != 1 || msgs[0].ID != m.ID {
		t.Errorf("messages after rename: %+v", msgs)
	}

	wantErr(t, "rename INBOX", s.RenameMailbox(ctx, a.ID, "INBOX", "Old"), store.ErrInvalid)
	if err := s.RenameMailbox(ctx, a.ID, "Work", "Sent"); !errors.Is(err, store.ErrExists) {
		t.Errorf("rename onto an existing mailbox: %v, want ErrExists", err)
	}
	if err := s.RenameMailbox(ctx, a.ID, "Work", "INBOX"); err == nil {
		t.Error("rename onto INBOX succeeded")
	}
	wantErr(t, "rename unknown", s.RenameMailbox(ctx, a.ID, "Nope", "Other"), store.ErrNotFound)
	if err := s.RenameMailbox(ctx, a.ID, "Work", "Work/Sub"); err == nil {
		t.Error("rename into its own child succeeded")
	}
	if got := f.mailbox(a.ID, "Work"); got.ID != proj.ID {
		t.Error("failed renames changed the mailbox")
	}
}

func testDeleteMailbox(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	a := f.account("alice@example.org")
	parent := f.create(a.ID, "Old")
	child := f.create(a.ID, "Old/Child")
	m := f.append(parent.ID, "doomed")

	if err := s.DeleteMailbox(ctx, a.ID, "Old"); err != nil {
		t.Fatal(err)
	}
	_, err := s.Mailbox(ctx, a.ID, "Old")
	wantErr(t, "Mailbox after delete", err, store.ErrNotFound)
	_, err = s.MailboxStatus(ctx, parent.ID)
	wantErr(t, "MailboxStatus after delete", err, store.ErrNotFound)
	_, err = s.MessageBody(ctx, m.ID)
	wantErr(t, "MessageBody of a deleted mailbox's message", err, store.ErrNotFound)
	if got := f.mailbox(a.ID, "Old/Child"); got.ID != child.ID {
		t.Errorf("child of deleted mailbox: %+v", got)
	}

	wantErr(t, "delete INBOX", s.DeleteMailbox(ctx, a.ID, "INBOX"), store.ErrInvalid)
	wantErr(t, "delete unknown", s.DeleteMailbox(ctx, a.ID, "Old"), store.ErrNotFound)
	f.mailbox(a.ID, store.Inbox)
}

func testSubscribe(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	a := f.account("alice@example.org")
	f.create(a.ID, "Lists")
	for _, sub := range []bool{true, false, true} {
		if err := s.SetSubscribed(ctx, a.ID, "Lists", sub); err != nil {
			t.Fatal(err)
		}
		if got := f.mailbox(a.ID, "Lists").Subscribed; got != sub {
			t.Errorf("Subscribed = %v, want %v", got, sub)
		}
	}
	if err := s.SetSubscribed(ctx, a.ID, "INBOX", false); err != nil {
		t.Fatal(err)
	}
	if f.mailbox(a.ID, "INBOX").Subscribed {
		t.Error("INBOX still subscribed")
	}
	wantErr(t, "SetSubscribed unknown", s.SetSubscribed(ctx, a.ID, "Nope", true), store.ErrNotFound)
}

// testUIDValidity: a mailbox deleted and created again under the same
// name must get a UIDVALIDITY it never had before (RFC 3501 §2.3.1.1).
func testUIDValidity(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	a := f.account("alice@example.org")
	var seen []uint32
	for range 4 {
		mb := f.create(a.ID, "Scratch")
		if slices.Contains(seen, mb.UIDValidity) {
			t.Fatalf("UIDVALIDITY %d reused (earlier: %v)", mb.UIDValidity, seen)
		}
		seen = append(seen, mb.UIDValidity)
		if st := f.status(mb.ID); st.UIDValidity != mb.UIDValidity {
			t.Errorf("MailboxStatus UIDValidity %d, Mailbox %d", st.UIDValidity, mb.UIDValidity)
		}
		f.append(mb.ID, "x")
		if err := s.DeleteMailbox(ctx, a.ID, "Scratch"); err != nil {
			t.Fatal(err)
		}
	}
	// Renaming into the freed name also must not bring an old value back.
	f.create(a.ID, "Other")
	if err := s.RenameMailbox(ctx, a.ID, "Other", "Scratch"); err != nil {
		t.Fatal(err)
	}
	if uv := f.mailbox(a.ID, "Scratch").UIDValidity; slices.Contains(seen, uv) {
		t.Errorf("renamed mailbox has an old UIDVALIDITY %d", uv)
	}
}
