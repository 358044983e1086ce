package store

import (
	"sync"
	"testing"
)

// TestNotifier: wake-ups reach the mailbox's and the account's watchers
// only, coalesce, never block, and cancelled watches leave nothing behind
// (an idle IMAP connection holds one for hours).
func TestNotifier(t *testing.T) {
	var n Notifier
	box, cancelBox := n.Watch(1)
	other, cancelOther := n.Watch(2)
	acct, cancelAcct := n.WatchAccount(10)
	n.Notify(10, 1)
	n.Notify(10, 1) // coalesced: the second send does not block
	for _, c := range []struct {
		name string
		ch   <-chan struct{}
		want bool
	}{{"mailbox 1", box, true}, {"mailbox 2", other, false}, {"account 10", acct, true}} {
		got := false
		select {
		case <-c.ch:
			got = true
		default:
		}
		if got != c.want {
			t.Errorf("%s woken %v, want %v", c.name, got, c.want)
		}
		select {
		case <-c.ch:
			t.Errorf("%s: a second wake-up pending, want them coalesced", c.name)
		default:
		}
	}
	n.Notify(0, 2) // account unknown: mailbox only
	n.Notify(10, 0)
	if len(other) != 1 || len(acct) != 1 || len(box) != 0 {
		t.Errorf("pending: mailbox 1 %d, mailbox 2 %d, account %d; want 0, 1, 1", len(box), len(other), len(acct))
	}
	cancelBox()
	cancelBox()
	cancelOther()
	cancelAcct()
	n.Notify(10, 1)
	if len(box) != 0 {
		t.Error("a cancelled watch was woken")
	}
	if len(n.mailboxes) != 0 || len(n.accounts) != 0 {
		t.Errorf("cancelled watches left %d mailbox and %d account entries", len(n.mailboxes), len(n.accounts))
	}

	// Many watchers coming and going while notifications run.
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range 100 {
				_, cancel := n.Watch(int64(i % 5))
				n.Notify(1, int64(i%5))
				cancel()
			}
		}()
		go func() {
			defer wg.Done()
			for range 100 {
				n.Notify(1, int64(i%5))
			}
		}()
	}
	wg.Wait()
	if len(n.mailboxes) != 0 {
		t.Errorf("%d mailbox entries left after every watch was cancelled", len(n.mailboxes))
	}
}
