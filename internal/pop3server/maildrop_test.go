package pop3server

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/testutil/poll"
)

func TestDeleQuitDeletes(t *testing.T) {
	e := newEnv(t)
	e.fill(t)
	_, addr := e.start(t, Options{AllowPlaintextAuth: true})
	c := dialGreeted(t, addr)
	c.login(alice, alicePW)
	c.cmd("DELE 1", "+OK")
	c.cmd("DELE 3", "+OK")
	c.cmd("QUIT", "+OK Bye, 2 messages deleted")
	c.ExpectClosed()
	if got := e.inbox(t, e.alice); !slices.Equal(got, []string{msg2}) {
		t.Fatalf("INBOX after DELE 1, DELE 3, QUIT = %q, want only msg2", got)
	}
	// The expunge is an ordinary one: IMAP's change log has it.
	ch, err := e.st.Changes(context.Background(), e.aliceInboxID, 0)
	if err != nil {
		t.Fatal(err)
	}
	expunged := 0
	for _, c := range ch {
		if c.Kind == store.ChangeExpunge {
			expunged++
		}
	}
	if expunged != 2 {
		t.Errorf("change log has %d expunges, want 2", expunged)
	}
	// The next session sees the new maildrop, renumbered.
	c = dialGreeted(t, addr)
	c.login(alice, alicePW)
	c.cmd("STAT", fmt.Sprintf("+OK 1 %d", len(msg2)))
}

func TestDeleRsetQuit(t *testing.T) {
	e := newEnv(t)
	e.fill(t)
	_, addr := e.start(t, Options{AllowPlaintextAuth: true})
	c := dialGreeted(t, addr)
	c.login(alice, alicePW)
	c.cmd("DELE 1", "+OK")
	c.cmd("DELE 2", "+OK")
	c.cmd("RSET", "+OK Maildrop has 3 messages")
	c.cmd("DELE 3", "+OK")
	c.cmd("QUIT", "+OK Bye, 1 messages deleted")
	if got := e.inbox(t, e.alice); !slices.Equal(got, []string{msg1, msg2}) {
		t.Fatalf("INBOX = %q, want msg1 and msg2", got)
	}
}

// A connection that ends without QUIT deletes nothing (RFC 1939 §6), and
// gives the maildrop lock back.
func TestDeleThenDrop(t *testing.T) {
	e := newEnv(t)
	e.fill(t)
	_, addr := e.start(t, Options{AllowPlaintextAuth: true})
	c := dialGreeted(t, addr)
	c.login(alice, alicePW)
	c.cmd("DELE 1", "+OK")
	c.cmd("DELE 2", "+OK")
	c.NC.Close()

	var c2 *client
	poll.Until(t, testTimeout, "the maildrop lock to be released", func() bool {
		c2 = dialGreeted(t, addr)
		c2.cmd("USER "+alice, "+OK")
		c2.Send("PASS " + alicePW)
		l := c2.Line()
		if l == "-ERR [IN-USE] Maildrop already in use by another POP3 session" {
			c2.NC.Close()
			return false
		}
		if l != "+OK Logged in, 3 messages ("+fmt.Sprint(len(msg1)+len(msg2)+len(msg3))+" octets)" {
			t.Fatalf("login after drop: %q", l)
		}
		return true
	})
	c2.cmd("QUIT", "+OK Bye, 0 messages deleted")
	if got := e.inbox(t, e.alice); len(got) != 3 {
		t.Fatalf("INBOX has %d messages after a dropped session, want 3", len(got))
	}
}

// One POP3 session per maildrop (RFC 1939 §8, RFC 2449 [IN-USE]), also
// across two servers of one process sharing Maildrops (ports 110, 995).
func TestInUse(t *testing.T) {
	e := newEnv(t)
	e.fill(t)
	drops := NewMaildrops()
	_, addr1 := e.start(t, Options{AllowPlaintextAuth: true, Maildrops: drops})
	_, addr2 := e.start(t, Options{AllowPlaintextAuth: true, Maildrops: drops})

	c1 := dialGreeted(t, addr1)
	c1.login(alice, alicePW)
	for _, addr := range []string{addr1, addr2} {
		c2 := dialGreeted(t, addr)
		c2.cmd("USER "+alice, "+OK")
		c2.cmd("PASS "+alicePW, "-ERR [IN-USE] ")
		// Another account is not affected, and the session goes on.
		c2.cmd("USER "+bob, "+OK")
		c2.cmd("PASS "+bobPW, "+OK Logged in, 0 messages (0 octets)")
		c2.cmd("QUIT", "+OK")
	}
	c1.cmd("QUIT", "+OK")
	// QUIT gives the lock back before its reply: a new login succeeds at once.
	c3 := dialGreeted(t, addr2)
	c3.login(alice, alicePW)
	c3.cmd("QUIT", "+OK")
}

// A message expunged by an IMAP client during the session stays listed;
// RETR and TOP of it answer -ERR; DELE and QUIT still work.
func TestExpungedDuringSession(t *testing.T) {
	e := newEnv(t)
	e.fill(t)
	_, addr := e.start(t, Options{AllowPlaintextAuth: true})
	c := dialGreeted(t, addr)
	c.login(alice, alicePW)

	ctx := context.Background()
	msgs, err := e.st.Messages(ctx, e.aliceInboxID)
	if err != nil {
		t.Fatal(err)
	}
	uid2 := msgs[1].UID
	if _, _, err := e.st.UpdateFlags(ctx, e.aliceInboxID, []uint32{uid2}, store.FlagsAdd, []string{`\Deleted`}, 0); err != nil {
		t.Fatal(err)
	}
	if removed, err := e.st.Expunge(ctx, e.aliceInboxID, nil); err != nil || len(removed) != 1 {
		t.Fatalf("IMAP-side expunge: %v, %v", removed, err)
	}
	// A new message arriving now is not part of the maildrop either.
	e.deliver(t, e.alice, "Subject: new\r\n\r\nlate\r\n")

	c.cmd("STAT", fmt.Sprintf("+OK 3 %d", len(msg1)+len(msg2)+len(msg3)))
	c.cmd("LIST 2", fmt.Sprintf("+OK 2 %d", len(msg2)))
	c.cmd("RETR 2", "-ERR Message was removed by another client")
	c.cmd("TOP 2 0", "-ERR Message was removed by another client")
	c.cmd("RETR 1", "+OK")
	if got := c.message(); got != msg1 {
		t.Fatalf("RETR 1 = %q", got)
	}
	c.cmd("DELE 2", "+OK")
	c.cmd("DELE 3", "+OK")
	c.cmd("QUIT", "+OK Bye, 1 messages deleted")
	if got := e.inbox(t, e.alice); !slices.Equal(got, []string{msg1, "Subject: new\r\n\r\nlate\r\n"}) {
		t.Fatalf("INBOX = %q", got)
	}
}

// \Deleted set by IMAP on a message POP3 did not mark stays as it is: the
// UPDATE state expunges exactly the marked UIDs.
func TestUpdateLeavesIMAPDeletedAlone(t *testing.T) {
	e := newEnv(t)
	e.fill(t)
	ctx := context.Background()
	msgs, err := e.st.Messages(ctx, e.aliceInboxID)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.st.UpdateFlags(ctx, e.aliceInboxID, []uint32{msgs[2].UID}, store.FlagsAdd, []string{`\Deleted`}, 0); err != nil {
		t.Fatal(err)
	}
	_, addr := e.start(t, Options{AllowPlaintextAuth: true})
	c := dialGreeted(t, addr)
	c.login(alice, alicePW)
	c.cmd("DELE 1", "+OK")
	c.cmd("QUIT", "+OK Bye, 1 messages deleted")
	if got := e.inbox(t, e.alice); !slices.Equal(got, []string{msg2, msg3}) {
		t.Fatalf("INBOX = %q, want msg2 and msg3 (msg3 still flagged, not expunged)", got)
	}
}

// UIDL values are stable across sessions and servers (a restart), and
// unique.
func TestUIDLStable(t *testing.T) {
	e := newEnv(t)
	want := e.fill(t)
	for round := range 2 {
		_, addr := e.start(t, Options{AllowPlaintextAuth: true})
		c := dialGreeted(t, addr)
		c.login(alice, alicePW)
		c.cmd("UIDL", "+OK")
		got := c.multi()
		for i := range got {
			got[i] = got[i][2:]
		}
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: UIDL = %q, want %q", round, got, want)
		}
		c.cmd("QUIT", "+OK")
	}
	if want[0] == want[1] || want[1] == want[2] {
		t.Fatalf("UIDL values not unique: %q", want)
	}
}
