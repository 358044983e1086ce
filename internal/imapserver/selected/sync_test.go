package selected

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// Two sessions on one mailbox see each other's changes only at the
// moments RFC 9051 §7.5.2 allows, with consistent sequence numbers.
func TestUpdatesBetweenSessions(t *testing.T) {
	f := newFixture(t)
	for range 4 {
		f.add(msg3)
	}
	a := f.open(Caps{}, false, nil)
	b := f.open(Caps{CondStore: true}, false, nil)
	a.out()
	b.out()

	// A flags 2; B hears of it with UID and MODSEQ (CONDSTORE).
	a.cmd("STORE 2 +FLAGS (\\Flagged)")
	out := b.sync(false)
	if !strings.HasPrefix(out, "* 2 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ (") {
		t.Errorf("B's flag update: %q", out)
	}
	if out := b.sync(true); out != "" {
		t.Errorf("flag update repeated: %q", out)
	}

	// A deletes 2 and 3 and expunges them; a new message arrives.
	a.cmd("STORE 2:3 +FLAGS.SILENT (\\Deleted)")
	out, st := a.cmd("EXPUNGE")
	wantOut(t, "A's EXPUNGE", out, "* 3 EXPUNGE\r\n* 2 EXPUNGE\r\n")
	if st != "OK" {
		t.Error(st)
	}
	f.add(msg1)

	// During FETCH B must not learn of the expunge; the new message is
	// announced, numbered after the 4 messages B still counts.
	out = b.sync(false)
	if strings.Contains(out, "EXPUNGE") || !strings.Contains(out, "* 5 EXISTS\r\n") {
		t.Errorf("B after A's expunge, no expunges allowed: %q", out)
	}
	out, st = b.cmd("FETCH 2:3 FLAGS")
	if st != "OK [EXPUNGEISSUED]" || out != "" {
		t.Errorf("B FETCH of expunged messages: %s %q", st, out)
	}
	out, _ = b.cmd("FETCH 5 UID")
	wantOut(t, "B FETCH of the new message", out, "* 5 FETCH (UID 5)\r\n")
	// Now expunges may be sent: highest first, then the numbers shift.
	out = b.sync(true)
	wantOut(t, "B after expunges allowed", out, "* 3 EXPUNGE\r\n* 2 EXPUNGE\r\n")
	out, _ = b.cmd("FETCH 3 UID")
	wantOut(t, "B FETCH after renumbering", out, "* 3 FETCH (UID 5)\r\n")

	// A sees the new message too.
	out = a.sync(true)
	wantOut(t, "A new message", out, "* 3 EXISTS\r\n")
}

func TestVanishedUnderQResync(t *testing.T) {
	f := newFixture(t)
	for range 3 {
		f.add(msg3, `\Deleted`)
	}
	a := f.open(Caps{QResync: true, CondStore: true}, false, nil)
	b := f.open(Caps{QResync: true, CondStore: true}, false, nil)
	a.out()
	b.out()
	out, _ := a.cmd("UID EXPUNGE 1:2")
	wantOut(t, "A's UID EXPUNGE", out, "* VANISHED 1:2\r\n")
	wantOut(t, "B", b.sync(true), "* VANISHED 1:2\r\n")
	out, _ = b.cmd("FETCH 1 UID")
	wantOut(t, "B after VANISHED", out, "* 1 FETCH (UID 3)\r\n")
}

// A delivery calls an idle view's Notify callback and Sync reports EXISTS.
func TestNotifyOnDelivery(t *testing.T) {
	f := newFixture(t)
	c := f.open(Caps{}, false, nil)
	c.out()
	changed := make(chan struct{}, 1)
	c.v.Notify(func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	defer c.v.Notify(nil)
	go func() {
		time.Sleep(10 * time.Millisecond)
		f.st.Deliver(context.Background(), store.Delivery{Body: []byte(msg1), Targets: []store.Target{{AccountID: f.acct.ID}}})
	}()
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("Notify's callback did not run after a delivery")
	}
	wantOut(t, "IDLE update", c.sync(true), "* 1 EXISTS\r\n")
}

// An APPEND by the session itself shows at the next Sync, at once.
func TestSyncSeesOwnAppend(t *testing.T) {
	f := newFixture(t)
	c := f.open(Caps{}, false, nil)
	c.out()
	for i := range 50 {
		f.add(msg1)
		wantOut(t, "Sync after APPEND", c.sync(true), "* "+itoa(uint64(i+1))+" EXISTS\r\n")
	}
}
