package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/posthorn/posthorn/internal/store"
)

// Concurrency, cancellation, Close and persistence.

const concurrentDeliveries = 50

// testConcurrentDeliver: 50 deliveries at once (each to two accounts) are
// all stored exactly once, with distinct, dense UIDs.
func testConcurrentDeliver(t *testing.T, f *fixture) {
	a := f.account("alice@example.org")
	b := f.account("bob@example.org")
	var wg sync.WaitGroup
	results := make([][]store.Message, concurrentDeliveries)
	errs := make([]error, concurrentDeliveries)
	for i := range concurrentDeliveries {
		wg.Go(func() {
			results[i], errs[i] = f.s.Deliver(f.ctx, store.Delivery{
				Body:    fmt.Appendf(nil, "message %d\r\n", i),
				Targets: []store.Target{{AccountID: a.ID}, {AccountID: b.ID, Mailbox: "Archive"}},
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Deliver %d: %v", i, err)
		}
	}
	for target, mb := range []store.Mailbox{f.mailbox(a.ID, store.Inbox), f.mailbox(b.ID, "Archive")} {
		msgs := f.messages(mb.ID)
		if len(msgs) != concurrentDeliveries {
			t.Fatalf("%s has %d messages, want %d", mb.Name, len(msgs), concurrentDeliveries)
		}
		seen := map[string]bool{}
		for i, m := range msgs {
			if m.UID != uint32(i+1) {
				t.Errorf("%s: UID %d at position %d, want dense UIDs from 1", mb.Name, m.UID, i)
			}
			body := string(f.body(m.ID))
			if seen[body] {
				t.Errorf("%s: %q stored twice", mb.Name, body)
			}
			seen[body] = true
		}
		for i, r := range results {
			m := r[target]
			if m.MailboxID != mb.ID || !bytes.Equal(f.body(m.ID), fmt.Appendf(nil, "message %d\r\n", i)) {
				t.Errorf("Deliver %d target %d returned %+v, which does not hold its body", i, target, m)
			}
		}
		if st := f.status(mb.ID); st.UIDNext != concurrentDeliveries+1 || st.Messages != concurrentDeliveries {
			t.Errorf("%s status %+v", mb.Name, st)
		}
	}
}

// testConcurrentMixedResults: concurrent writes that fail do not take
// concurrent successful ones with them, and get their own errors.
func testConcurrentMixedResults(t *testing.T, f *fixture) {
	a := f.account("alice@example.org")
	inbox := f.mailbox(a.ID, store.Inbox).ID
	var wg sync.WaitGroup
	errs := make([]error, concurrentDeliveries)
	for i := range concurrentDeliveries {
		wg.Go(func() {
			acct := a.ID
			if i%3 == 0 {
				acct = a.ID + 1000 // unknown
			}
			_, errs[i] = f.s.Deliver(f.ctx, store.Delivery{Body: []byte("x"), Targets: []store.Target{{AccountID: acct}}})
		})
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case i%3 == 0:
			wantErr(t, fmt.Sprintf("Deliver %d to unknown account", i), err, store.ErrNotFound)
		case err != nil:
			t.Errorf("Deliver %d: %v", i, err)
		default:
			ok++
		}
	}
	if got := f.uids(inbox); len(got) != ok || (ok > 0 && got[ok-1] != uint32(ok)) {
		t.Errorf("stored UIDs %v, want 1..%d", got, ok)
	}
}

func testCanceledContext(t *testing.T, f *fixture) {
	a := f.account("alice@example.org")
	inbox := f.mailbox(a.ID, store.Inbox).ID
	ctx, cancel := context.WithCancel(f.ctx)
	cancel()
	_, err := f.s.Deliver(ctx, store.Delivery{Body: []byte("x"), Targets: []store.Target{{AccountID: a.ID}}})
	wantErr(t, "Deliver with canceled context", err, context.Canceled)
	if got := f.uids(inbox); len(got) != 0 {
		t.Errorf("canceled Deliver stored %v", got)
	}
}

func testClosed(t *testing.T, f *fixture) {
	a := f.account("alice@example.org")
	if err := f.s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_, err := f.s.Deliver(f.ctx, store.Delivery{Body: []byte("x"), Targets: []store.Target{{AccountID: a.ID}}})
	wantErr(t, "Deliver after Close", err, store.ErrClosed)
	_, err = f.s.Account(f.ctx, a.Address)
	wantErr(t, "Account after Close", err, store.ErrClosed)
}

// testReopen: everything written is there after a reopen, and counters
// continue where they were.
func testReopen(t *testing.T, f *fixture, reopen func(*testing.T, store.Store) store.Store) {
	a := f.account("alice@example.org")
	if err := f.s.AddAlias(f.ctx, "info@example.org", []string{a.Address}); err != nil {
		t.Fatal(err)
	}
	f.create(a.ID, "Kept")
	scratch := f.create(a.ID, "Scratch")
	if err := f.s.DeleteMailbox(f.ctx, a.ID, "Scratch"); err != nil {
		t.Fatal(err)
	}
	if err := f.s.SetQuota(f.ctx, a.Address, 1<<20); err != nil {
		t.Fatal(err)
	}
	inbox := f.mailbox(a.ID, store.Inbox)
	body := body(5000, "persist")
	m := f.deliver(store.Delivery{Body: body, Targets: []store.Target{{AccountID: a.ID, Flags: []string{`\Seen`}}}})[0]
	f.append(inbox.ID, "second", `\Deleted`)
	f.expunge(inbox.ID, nil)
	st := f.status(inbox.ID)

	f.s = reopen(t, f.s)

	if got, err := f.s.Account(f.ctx, a.Address); err != nil || got.ID != a.ID {
		t.Errorf("account after reopen: %+v, %v", got, err)
	}
	if al, err := f.s.Alias(f.ctx, "info@example.org"); err != nil || !slices.Equal(al.Targets, []string{a.Address}) {
		t.Errorf("alias after reopen: %+v, %v", al, err)
	}
	f.mailbox(a.ID, "Kept")
	if again := f.create(a.ID, "Scratch"); again.UIDValidity == scratch.UIDValidity || again.UIDValidity == inbox.UIDValidity {
		t.Errorf("mailbox recreated after reopen has UIDVALIDITY %d, as before (%d) or as INBOX", again.UIDValidity, scratch.UIDValidity)
	}
	if got, err := f.s.Account(f.ctx, a.Address); err != nil || got.QuotaBytes != 1<<20 {
		t.Errorf("quota after reopen: %+v, %v", got, err)
	}
	if u, err := f.s.Usage(f.ctx, a.ID); err != nil || u != int64(len(body)) {
		t.Errorf("Usage after reopen %d, %v; want %d", u, err, len(body))
	}
	if got := f.status(inbox.ID); got != st {
		t.Errorf("status after reopen %+v, want %+v", got, st)
	}
	msgs := f.messages(inbox.ID)
	if len(msgs) != 1 || msgs[0].ID != m.ID || !slices.Equal(msgs[0].Flags, []string{`\Seen`}) {
		t.Errorf("messages after reopen: %+v", msgs)
	}
	if !bytes.Equal(f.body(m.ID), body) {
		t.Error("body differs after reopen")
	}
	next := f.deliver(store.Delivery{Body: []byte("x"), Targets: []store.Target{{AccountID: a.ID}}})[0]
	if next.UID != 3 || next.ID <= m.ID || next.ModSeq <= st.HighestModSeq {
		t.Errorf("delivery after reopen %+v (status before %+v)", next, st)
	}
	if _, err := f.s.CreateMailbox(f.ctx, a.ID, "Kept", store.UseNone); !errors.Is(err, store.ErrExists) {
		t.Errorf("CreateMailbox of existing after reopen: %v", err)
	}
}
