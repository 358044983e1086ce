package test

import (
	"fmt"
	"net/smtp"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/posthorn/posthorn/internal/store/postgres/pgtest"
)

// mailboxView is what an IMAP client caches of a mailbox: UIDVALIDITY,
// UIDNEXT, HIGHESTMODSEQ and, per UID, the flags and MODSEQ.
type mailboxView struct {
	UIDValidity, UIDNext uint32
	HighestModSeq        uint64
	Messages             []string // "UID MODSEQ flags"
}

func viewMailboxes(t *testing.T, s *devServer, boxes ...string) map[string]mailboxView {
	t.Helper()
	tg := devIMAPTarget(t, s)
	c, err := imapclient.DialTLS(tg.addr, &imapclient.Options{TLSConfig: tg.tls})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(tg.user, tg.pass).Wait(); err != nil {
		t.Fatalf("LOGIN: %v", err)
	}
	out := map[string]mailboxView{}
	for _, box := range boxes {
		sel, err := c.Select(box, &imap.SelectOptions{CondStore: true}).Wait()
		if err != nil {
			t.Fatalf("SELECT %s: %v", box, err)
		}
		v := mailboxView{UIDValidity: sel.UIDValidity, UIDNext: uint32(sel.UIDNext), HighestModSeq: sel.HighestModSeq}
		if sel.NumMessages > 0 {
			var all imap.SeqSet
			all.AddRange(1, sel.NumMessages)
			msgs, err := c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true, ModSeq: true}).Collect()
			if err != nil {
				t.Fatalf("FETCH: %v", err)
			}
			for _, m := range msgs {
				var flags []string
				for _, f := range m.Flags {
					if f != `\Recent` {
						flags = append(flags, string(f))
					}
				}
				slices.Sort(flags)
				v.Messages = append(v.Messages, fmt.Sprintf("%d %d %s", m.UID, m.ModSeq, strings.Join(flags, " ")))
			}
		}
		out[box] = v
	}
	c.Logout().Wait()
	return out
}

// TestMigrateToPostgres: a dev server on the embedded store gets mail
// (SMTP), flags, keywords, expunges and a nested folder with copies
// (IMAP); it is stopped, `posthorn migrate` copies DATA/mail.db into a
// PostgreSQL database and verifies, and the dev server restarted on
// PostgreSQL shows an IMAP client the same UIDVALIDITY, UIDNEXT,
// HIGHESTMODSEQ, UIDs, flags and MODSEQs; the next delivery takes the old
// UIDNEXT.
func TestMigrateToPostgres(t *testing.T) {
	dir, addr := t.TempDir(), loopbackIP(t)
	s := startDevArgs(t, dir, addr) // the embedded store, whatever POSTHORN_TEST_STORE says
	alice := s.info.Accounts[0]
	send := func(s *devServer, n int) {
		t.Helper()
		sc, err := smtp.Dial(s.smtpAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer sc.Close()
		for i := range n {
			deliverOne(t, sc, alice.Address, i)
		}
		if err := sc.Quit(); err != nil {
			t.Fatal(err)
		}
	}
	send(s, 8)

	tg := devIMAPTarget(t, s)
	c, err := imapclient.DialTLS(tg.addr, &imapclient.Options{TLSConfig: tg.tls})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(tg.user, tg.pass).Wait(); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.Select("INBOX", nil).Wait()
	must(err)
	store := func(uids imap.UIDSet, op imap.StoreFlagsOp, flags ...imap.Flag) {
		t.Helper()
		must(c.Store(uids, &imap.StoreFlags{Op: op, Flags: flags, Silent: true}, nil).Close())
	}
	store(imap.UIDSetNum(1, 2, 3), imap.StoreFlagsAdd, imap.FlagSeen)
	store(imap.UIDSetNum(2), imap.StoreFlagsAdd, imap.FlagFlagged, "$Work")
	store(imap.UIDSetNum(4, 6), imap.StoreFlagsAdd, imap.FlagDeleted)
	must(c.Expunge().Close())
	must(c.Create("Archive/2026", nil).Wait())
	_, err = c.Copy(imap.UIDSetNum(1, 2, 8), "Archive/2026").Wait()
	must(err)
	store(imap.UIDSetNum(3), imap.StoreFlagsDel, imap.FlagSeen)
	c.Logout().Wait()
	c.Close()

	boxes := []string{"INBOX", "Archive/2026", "Sent"}
	before := viewMailboxes(t, s, boxes...)
	if in := before["INBOX"]; len(in.Messages) != 6 || in.UIDNext != 9 {
		t.Fatalf("INBOX before the migration: %+v", in)
	}
	if err := s.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("stopping the server: %v", err)
	}

	dsn := pgtest.DSN(t)
	out, err := run(t, nil, "migrate", "-data-dir", s.info.DataDir, "-to", dsn)
	if err != nil || !strings.Contains(out, "no differences") || !strings.Contains(out, "copied") {
		t.Fatalf("posthorn migrate: %v\n%s", err, out)
	}
	t.Logf("posthorn migrate:\n%s", out)
	out, err = run(t, nil, "migrate", "-data-dir", s.info.DataDir, "-to", dsn)
	if err == nil || !strings.Contains(out, "not empty") {
		t.Errorf("a second migration into the same database: %v\n%s", err, out)
	}
	out, err = run(t, nil, "migrate", "-data-dir", s.info.DataDir, "-to", dsn, "-verify-only")
	if err != nil || !strings.Contains(out, "no differences") || strings.Contains(out, "copied") {
		t.Errorf("posthorn migrate -verify-only: %v\n%s", err, out)
	}

	pg := startDevArgs(t, dir, addr, "-store-dsn", dsn)
	if pg.info.Store != "postgres" {
		t.Fatalf("restarted dev server's store is %q", pg.info.Store)
	}
	after := viewMailboxes(t, pg, boxes...)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("IMAP view before the migration:\n%+v\nafter:\n%+v", before, after)
	}
	send(pg, 1)
	next := viewMailboxes(t, pg, "INBOX")["INBOX"]
	last := next.Messages[len(next.Messages)-1]
	if want := fmt.Sprint(before["INBOX"].UIDNext) + " "; !strings.HasPrefix(last, want) || next.HighestModSeq <= before["INBOX"].HighestModSeq {
		t.Errorf("new message %q (HIGHESTMODSEQ %d), want UID %d and HIGHESTMODSEQ above %d", last,
			next.HighestModSeq, before["INBOX"].UIDNext, before["INBOX"].HighestModSeq)
	}
}
