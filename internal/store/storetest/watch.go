package storetest

import (
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// Change notification (Mail.Watch, Mail.WatchAccount).

// wakeWait bounds how long a test waits for a notification that must
// come; generous, since the machine running the tests may be loaded.
const wakeWait = 10 * time.Second

// woken fails the test unless ch fires within wakeWait.
func woken(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(wakeWait):
		t.Fatalf("%s: no notification within %v", what, wakeWait)
	}
}

// quiet fails the test if ch has a pending notification. Notifications
// are sent before the write returns, so checking right after it is exact.
func quiet(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
		t.Errorf("%s: unexpected notification", what)
	default:
	}
}

// testWatch: every kind of committed change to a mailbox wakes its
// watchers, and nothing else does.
func testWatch(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	a := f.account("alice@example.org")
	b := f.account("bob@example.org")
	inbox := f.mailbox(a.ID, store.Inbox).ID
	archive := f.mailbox(a.ID, "Archive").ID
	ch, cancel := f.watch(inbox)
	defer cancel()
	other, cancelOther := f.watch(archive)
	defer cancelOther()
	second, cancelSecond := f.watch(inbox) // several watchers of one mailbox
	defer cancelSecond()

	f.deliver(store.Delivery{Body: []byte("1"), Targets: []store.Target{{AccountID: a.ID}}})
	woken(t, "Deliver", ch)
	woken(t, "Deliver, second watcher", second)
	quiet(t, "Deliver to INBOX, Archive's watcher", other)
	f.deliver(store.Delivery{Body: []byte("b"), Targets: []store.Target{{AccountID: b.ID}}})
	quiet(t, "Deliver to another account", ch)

	f.append(inbox, "2")
	woken(t, "Append", ch)
	f.setFlags(inbox, []uint32{1}, store.FlagsAdd, `\Seen`)
	woken(t, "UpdateFlags", ch)
	f.setFlags(inbox, []uint32{1}, store.FlagsAdd, `\Seen`)
	quiet(t, "UpdateFlags that changes nothing", ch)
	f.setFlags(inbox, []uint32{1}, store.FlagsAdd, `\Deleted`)
	woken(t, "UpdateFlags \\Deleted", ch)
	f.expunge(inbox, nil)
	woken(t, "Expunge", ch)
	f.expunge(inbox, nil)
	quiet(t, "Expunge of nothing", ch)

	if _, _, err := s.Copy(ctx, inbox, []uint32{2}, archive); err != nil {
		t.Fatal(err)
	}
	woken(t, "Copy, destination", other)
	quiet(t, "Copy, source", ch)
	if _, _, err := s.Move(ctx, archive, []uint32{1}, inbox); err != nil {
		t.Fatal(err)
	}
	woken(t, "Move, destination", ch)
	woken(t, "Move, source", other)

	// Coalescing: three changes nobody read are one pending wake-up.
	for range 3 {
		f.append(inbox, "x")
	}
	woken(t, "three Appends", ch)
	quiet(t, "three Appends, second read", ch)
	<-second

	// Failed writes wake nobody.
	_, err := s.Deliver(ctx, store.Delivery{Body: []byte("x"), Targets: []store.Target{{AccountID: a.ID}, {AccountID: a.ID + b.ID + 1000}}})
	wantErr(t, "Deliver with an unknown account", err, store.ErrNotFound)
	quiet(t, "failed Deliver", ch)
	_, _, err = s.UpdateFlags(ctx, inbox, []uint32{1, 2, 3}, store.FlagsAdd, []string{`\Flagged`}, store.UnchangedSinceZero)
	if err != nil {
		t.Fatal(err)
	}
	quiet(t, "UpdateFlags that failed every UNCHANGEDSINCE check", ch)

	// Rename (also of a parent) and delete.
	proj := f.create(a.ID, "Projects")
	child := f.create(a.ID, "Projects/A")
	pch, pcancel := f.watch(proj.ID)
	defer pcancel()
	cch, ccancel := f.watch(child.ID)
	defer ccancel()
	if err := s.RenameMailbox(ctx, a.ID, "Projects", "Work"); err != nil {
		t.Fatal(err)
	}
	woken(t, "RenameMailbox", pch)
	woken(t, "RenameMailbox of the parent", cch)
	if err := s.DeleteMailbox(ctx, a.ID, "Work/A"); err != nil {
		t.Fatal(err)
	}
	woken(t, "DeleteMailbox", cch)
	quiet(t, "DeleteMailbox of a child, parent", pch)
	if err := s.RemoveAccount(ctx, a.Address); err != nil {
		t.Fatal(err)
	}
	woken(t, "RemoveAccount", pch)
	woken(t, "RemoveAccount", ch)

	// After cancel, nothing arrives; cancel twice is fine.
	bin := f.mailbox(b.ID, store.Inbox).ID
	bch, bcancel := f.watch(bin)
	bcancel()
	bcancel()
	f.append(bin, "after cancel")
	quiet(t, "after cancel", bch)
}

// testWatchSeesCommit: a woken watcher's read already sees the change
// (the notification comes after the commit, never before).
func testWatchSeesCommit(t *testing.T, f *fixture) {
	a := f.account("alice@example.org")
	inbox := f.mailbox(a.ID, store.Inbox).ID
	ch, cancel := f.watch(inbox)
	defer cancel()
	for i := 1; i <= 20; i++ {
		errc := make(chan error, 1)
		go func() {
			_, err := f.s.Deliver(f.ctx, store.Delivery{Body: []byte("m"), Targets: []store.Target{{AccountID: a.ID}}})
			errc <- err
		}()
		woken(t, "Deliver", ch)
		msgs, err := f.s.MessagesFrom(f.ctx, inbox, uint32(i))
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 1 || msgs[0].UID != uint32(i) {
			t.Fatalf("delivery %d: woken watcher reads %+v", i, msgs)
		}
		if st := f.status(inbox); st.Messages != i {
			t.Fatalf("delivery %d: woken watcher's MailboxStatus %+v", i, st)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}

// testWatchAccount: the account's watchers see every mailbox's changes
// and the mailbox list's.
func testWatchAccount(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	a := f.account("alice@example.org")
	b := f.account("bob@example.org")
	ch, cancel := f.watchAccount(a.ID)
	defer cancel()
	f.deliver(store.Delivery{Body: []byte("1"), Targets: []store.Target{{AccountID: a.ID, Mailbox: "Junk"}}})
	woken(t, "Deliver to Junk", ch)
	f.deliver(store.Delivery{Body: []byte("1"), Targets: []store.Target{{AccountID: b.ID}}})
	quiet(t, "Deliver to another account", ch)
	f.create(a.ID, "New")
	woken(t, "CreateMailbox", ch)
	if err := s.SetSubscribed(ctx, a.ID, "New", true); err != nil {
		t.Fatal(err)
	}
	woken(t, "SetSubscribed", ch)
	if err := s.RenameMailbox(ctx, a.ID, "New", "Newer"); err != nil {
		t.Fatal(err)
	}
	woken(t, "RenameMailbox", ch)
	if err := s.DeleteMailbox(ctx, a.ID, "Newer"); err != nil {
		t.Fatal(err)
	}
	woken(t, "DeleteMailbox", ch)
	f.setFlags(f.mailbox(a.ID, "Junk").ID, []uint32{1}, store.FlagsAdd, `\Seen`)
	woken(t, "UpdateFlags", ch)
}

// watch is Watch, failing the test on an error.
func (f *fixture) watch(mailboxID int64) (<-chan struct{}, func()) {
	f.t.Helper()
	ch, cancel, err := f.s.Watch(f.ctx, mailboxID)
	if err != nil {
		f.t.Fatalf("Watch(%d): %v", mailboxID, err)
	}
	return ch, cancel
}

// watchAccount is WatchAccount, failing the test on an error.
func (f *fixture) watchAccount(accountID int64) (<-chan struct{}, func()) {
	f.t.Helper()
	ch, cancel, err := f.s.WatchAccount(f.ctx, accountID)
	if err != nil {
		f.t.Fatalf("WatchAccount(%d): %v", accountID, err)
	}
	return ch, cancel
}
