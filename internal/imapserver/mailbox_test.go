package imapserver

import (
	"context"
	"testing"

	"github.com/posthorn/posthorn/internal/store"
)

// Transcripts of the authenticated state's mailbox commands (RFC 9051
// §6.3): CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST, LSUB,
// NAMESPACE, STATUS, ENABLE.

func TestListDefaultMailboxes(t *testing.T) {
	e := newEnv(t)
	c := loggedIn(t, e.plain(t))
	c.transcript("a", `LIST "" *`,
		`* LIST (\HasNoChildren) "/" INBOX`,
		`* LIST (\HasNoChildren \Archive) "/" Archive`,
		`* LIST (\HasNoChildren \Drafts) "/" Drafts`,
		`* LIST (\HasNoChildren \Junk) "/" Junk`,
		`* LIST (\HasNoChildren \Sent) "/" Sent`,
		`* LIST (\HasNoChildren \Trash) "/" Trash`,
		"a OK LIST completed")
	// RFC 9051 §6.3.9: the empty pattern asks for the delimiter.
	c.transcript("b", `LIST "" ""`, `* LIST (\Noselect) "/" ""`, "b OK LIST completed")
	c.transcript("c", `LIST "" inbox`, `* LIST (\HasNoChildren) "/" INBOX`, "c OK LIST completed")
	c.transcript("d", `NAMESPACE`, `* NAMESPACE (("" "/")) NIL NIL`, "d OK NAMESPACE completed")
}

func TestCreateDeleteHierarchy(t *testing.T) {
	e := newEnv(t)
	c := loggedIn(t, e.plain(t))
	c.transcript("a", "CREATE foo/bar/baz", "a OK CREATE completed")
	c.transcript("b", `LIST "" foo*`,
		`* LIST (\HasChildren) "/" foo`,
		`* LIST (\HasChildren) "/" foo/bar`,
		`* LIST (\HasNoChildren) "/" foo/bar/baz`,
		"b OK LIST completed")
	c.transcript("c", "CREATE foo/bar", "c NO [ALREADYEXISTS] Mailbox already exists")
	c.transcript("d", "CREATE inbox", "d NO [ALREADYEXISTS] INBOX always exists")
	// RFC 9051 §6.3.4: a trailing delimiter declares the intent to make
	// children; the name itself is created.
	c.transcript("e", "CREATE Projects/", "e OK CREATE completed")
	c.transcript("f", `LIST "" Projects`, `* LIST (\HasNoChildren) "/" Projects`, "f OK LIST completed")
	// DELETE of a mailbox with children: the children stay, the name lists
	// as \Noselect (RFC 9051 §6.3.5's example), "%" included.
	foo := e.mailbox(t, e.alice, "foo")
	c.transcript("g", "DELETE foo", "g OK DELETE completed")
	c.transcript("h", `LIST "" %`,
		`* LIST (\HasNoChildren) "/" INBOX`,
		`* LIST (\HasNoChildren \Archive) "/" Archive`,
		`* LIST (\HasNoChildren \Drafts) "/" Drafts`,
		`* LIST (\HasNoChildren \Junk) "/" Junk`,
		`* LIST (\HasNoChildren) "/" Projects`,
		`* LIST (\HasNoChildren \Sent) "/" Sent`,
		`* LIST (\HasNoChildren \Trash) "/" Trash`,
		`* LIST (\Noselect \HasChildren) "/" foo`,
		"h OK LIST completed")
	// LIST-EXTENDED (several patterns here): \NonExistent (RFC 5258 §3.4).
	c.transcript("h2", `LIST "" (foo Projects)`,
		`* LIST (\HasNoChildren) "/" Projects`,
		`* LIST (\NonExistent \HasChildren) "/" foo`,
		"h2 OK LIST completed")
	c.transcript("i", "DELETE foo", "i NO [NONEXISTENT] No such mailbox")
	c.transcript("j", "SELECT foo", "j NO [NONEXISTENT] No such mailbox")
	c.transcript("k", "STATUS foo (MESSAGES)", "k NO [NONEXISTENT] No such mailbox")
	// Created again: a new UIDVALIDITY (RFC 9051 §2.3.1.1).
	c.transcript("l", "CREATE foo", "l OK CREATE completed")
	if again := e.mailbox(t, e.alice, "foo"); again.UIDValidity == foo.UIDValidity {
		t.Errorf("recreated mailbox kept UIDVALIDITY %d", foo.UIDValidity)
	}
	c.transcript("m", "DELETE INBOX", "m NO [CANNOT] INBOX cannot be deleted")
	c.transcript("n", "DELETE nothing", "n NO [NONEXISTENT] No such mailbox")
}

func TestCreateBadNames(t *testing.T) {
	e := newEnv(t)
	c := loggedIn(t, e.plain(t))
	for _, name := range []string{`"a//b"`, `"/abs"`, `"a/../b"`, `".."`, `"x*"`, `"y%"`, `"&Jjo"`, `"&AGE-"`} {
		c.transcript("a", "CREATE "+name, "a NO [CANNOT] Invalid mailbox name")
	}
	c.transcript("b", "CREATE (x)", "b BAD expected astring")
}

func TestCreateSpecialUse(t *testing.T) {
	e := newEnv(t)
	c := loggedIn(t, e.plain(t))
	// RFC 6154 §5.2 example.
	c.transcript("t1", `CREATE MySpecial (USE (\Drafts \Sent))`, "t1 NO [USEATTR] Only one special-use attribute per mailbox")
	c.transcript("t2", `CREATE MySpecial (USE (\Important))`, "t2 NO [USEATTR] Unsupported special-use attribute")
	c.transcript("t3", `CREATE MySpecial (USE (\Sent))`, "t3 OK CREATE completed")
	c.transcript("t4", `LIST (SPECIAL-USE) "" "My*"`, `* LIST (\HasNoChildren \Sent) "/" MySpecial`, "t4 OK LIST completed")
	c.transcript("t5", `LIST "" "%" RETURN (SPECIAL-USE)`,
		`* LIST (\HasNoChildren) "/" INBOX`,
		`* LIST (\HasNoChildren \Archive) "/" Archive`,
		`* LIST (\HasNoChildren \Drafts) "/" Drafts`,
		`* LIST (\HasNoChildren \Junk) "/" Junk`,
		`* LIST (\HasNoChildren \Sent) "/" MySpecial`,
		`* LIST (\HasNoChildren \Sent) "/" Sent`,
		`* LIST (\HasNoChildren \Trash) "/" Trash`,
		"t5 OK LIST completed")
}

func TestRename(t *testing.T) {
	e := newEnv(t)
	c := loggedIn(t, e.plain(t))
	c.ok("a", "CREATE a/b")
	c.transcript("b", "RENAME a x/y", "b OK RENAME completed")
	c.transcript("c", `LIST "" x*`,
		`* LIST (\HasChildren) "/" x`,
		`* LIST (\HasChildren) "/" x/y`,
		`* LIST (\HasNoChildren) "/" x/y/b`,
		"c OK LIST completed")
	c.transcript("d", "RENAME x/y Sent", "d NO [ALREADYEXISTS] Target mailbox exists")
	c.transcript("e", "RENAME nothing z", "e NO [NONEXISTENT] No such mailbox")
	c.transcript("f", "RENAME x x/z", "f NO [CANNOT] Cannot move a mailbox into itself")
	c.transcript("g", "RENAME Sent INBOX", "g NO [ALREADYEXISTS] INBOX always exists")
}

// TestRenameInbox: RFC 9051 §6.3.6, renaming INBOX moves its messages to
// the new name and leaves INBOX empty, with the same UIDVALIDITY.
func TestRenameInbox(t *testing.T) {
	e := newEnv(t)
	e.deliver(t, e.alice, "Subject: one\r\n\r\n1\r\n")
	e.deliver(t, e.alice, "Subject: two\r\n\r\n2\r\n")
	inbox := e.mailbox(t, e.alice, store.Inbox)
	c := loggedIn(t, e.plain(t))
	c.ok("a", "CREATE INBOX/child")
	c.transcript("b", "RENAME inbox old-mail", "b OK RENAME completed")
	c.transcript("c", "STATUS INBOX (MESSAGES UIDVALIDITY)",
		"* STATUS INBOX (MESSAGES 0 UIDVALIDITY "+itoa(inbox.UIDValidity)+")", "c OK STATUS completed")
	c.transcript("d", "STATUS old-mail (MESSAGES)", "* STATUS old-mail (MESSAGES 2)", "d OK STATUS completed")
	// INBOX's children stay.
	c.transcript("e", `LIST "" INBOX/*`, `* LIST (\HasNoChildren) "/" INBOX/child`, "e OK LIST completed")
}

func TestSubscribeAndLSUB(t *testing.T) {
	e := newEnv(t)
	c := loggedIn(t, e.plain(t))
	c.ok("a", "CREATE news/comp")
	c.transcript("b", "SUBSCRIBE news/comp", "b OK SUBSCRIBE completed")
	c.transcript("c", "SUBSCRIBE nothing", "c NO [NONEXISTENT] No such mailbox")
	// INBOX is subscribed from the start.
	c.transcript("d", `LSUB "" *`, `* LSUB () "/" INBOX`, `* LSUB () "/" news/comp`, "d OK LSUB completed")
	// RFC 3501 §6.3.9: "%" cannot reach news/comp, so LSUB returns news
	// as \Noselect; "*" reaches it and does not.
	c.transcript("d2", `LSUB "" n%`, `* LSUB (\Noselect) "/" news`, "d2 OK LSUB completed")
	c.transcript("d3", `LSUB "" news*`, `* LSUB () "/" news/comp`, "d3 OK LSUB completed")
	// RFC 5258 §5 example 5: RECURSIVEMATCH lists the unsubscribed parent
	// with CHILDINFO.
	c.transcript("e", `LIST (SUBSCRIBED RECURSIVEMATCH) "" %`,
		`* LIST (\HasNoChildren \Subscribed) "/" INBOX`,
		`* LIST (\HasChildren) "/" news ("CHILDINFO" ("SUBSCRIBED"))`, "e OK LIST completed")
	c.transcript("f", `LIST (SUBSCRIBED) "" n*`, `* LIST (\HasNoChildren \Subscribed) "/" news/comp`, "f OK LIST completed")
	c.transcript("g", `LIST "" news* RETURN (SUBSCRIBED CHILDREN)`,
		`* LIST (\HasChildren) "/" news`,
		`* LIST (\HasNoChildren \Subscribed) "/" news/comp`, "g OK LIST completed")
	c.transcript("h", `LIST (RECURSIVEMATCH) "" %`, "h BAD RECURSIVEMATCH without another selection option")
	c.transcript("i", "UNSUBSCRIBE news/comp", "i OK UNSUBSCRIBE completed")
	c.transcript("j", `LSUB "" n*`, "j OK LSUB completed")
}

func TestStatus(t *testing.T) {
	e := newEnv(t)
	e.deliver(t, e.alice, "Subject: one\r\n\r\n1\r\n")
	m := e.deliver(t, e.alice, "Subject: two\r\n\r\n22\r\n")
	ctx := context.Background()
	inbox := e.mailbox(t, e.alice, store.Inbox)
	if _, _, err := e.st.UpdateFlags(ctx, inbox.ID, []uint32{m.UID}, store.FlagsAdd, []string{`\Seen`, `\Deleted`}, 0); err != nil {
		t.Fatal(err)
	}
	st, err := e.st.MailboxStatus(ctx, inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	c := loggedIn(t, e.plain(t))
	c.transcript("a", "STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT HIGHESTMODSEQ APPENDLIMIT)",
		"* STATUS INBOX (MESSAGES 2 UIDNEXT 3 UIDVALIDITY "+itoa(inbox.UIDValidity)+" UNSEEN 1 DELETED 1 SIZE 39 RECENT 0 HIGHESTMODSEQ "+
			itoa(st.HighestModSeq)+" APPENDLIMIT 52428800)",
		"a OK STATUS completed")
	c.transcript("b", "STATUS INBOX (MESSAGES FOO)", "b BAD Unknown STATUS item FOO")
	// RFC 5819 LIST-STATUS.
	c.transcript("c", `LIST "" "INBOX" RETURN (STATUS (MESSAGES UNSEEN))`,
		`* LIST (\HasNoChildren) "/" INBOX`, `* STATUS INBOX (MESSAGES 2 UNSEEN 1)`, "c OK LIST completed")
}

func TestEnable(t *testing.T) {
	e := newEnv(t)
	c := loggedIn(t, e.plain(t))
	c.transcript("a", "ENABLE CONDSTORE X-UNKNOWN", "* ENABLED CONDSTORE", "a OK ENABLE completed")
	c.transcript("b", "ENABLE CONDSTORE QRESYNC", "* ENABLED QRESYNC", "b OK ENABLE completed")
	c.transcript("c", "ENABLE IMAP4rev2 UTF8=ACCEPT", "* ENABLED IMAP4rev2 UTF8=ACCEPT", "c OK ENABLE completed")
	c2 := dialGreeted(t, e.plain(t))
	c2.transcript("d", "ENABLE IMAP4rev2", "d BAD Command not valid in this state")
}

// TestMailboxNamesUTF7AndUTF8: IMAP4rev1 clients use modified UTF-7 (RFC
// 3501 §5.1.3), IMAP4rev2 clients UTF-8; both name the same mailbox.
func TestMailboxNamesUTF7AndUTF8(t *testing.T) {
	e := newEnv(t)
	addr := e.plain(t)
	c := loggedIn(t, addr)
	// RFC 3501 §5.1.3 example: "~peter/mail/台北/日本語".
	c.transcript("a", "CREATE ~peter/mail/&U,BTFw-/&ZeVnLIqe-", "a OK CREATE completed")
	if _, err := e.st.Mailbox(context.Background(), e.alice.ID, "~peter/mail/台北/日本語"); err != nil {
		t.Fatalf("stored name: %v", err)
	}
	c.transcript("b", `LIST "" "~peter/mail/*"`,
		`* LIST (\HasChildren) "/" ~peter/mail/&U,BTFw-`,
		`* LIST (\HasNoChildren) "/" ~peter/mail/&U,BTFw-/&ZeVnLIqe-`, "b OK LIST completed")

	c2 := loggedIn(t, addr)
	c2.ok("c", "ENABLE IMAP4rev2")
	c2.transcript("d", `LIST "" "~peter/mail/*"`,
		`* LIST (\HasChildren) "/" "~peter/mail/台北"`,
		`* LIST (\HasNoChildren) "/" "~peter/mail/台北/日本語"`, "d OK LIST completed")
	c2.transcript("e", `STATUS "~peter/mail/台北/日本語" (MESSAGES)`, `* STATUS "~peter/mail/台北/日本語" (MESSAGES 0)`, "e OK STATUS completed")
	// After ENABLE, "&" is an ordinary character.
	c2.transcript("f", `CREATE "R&D"`, "f OK CREATE completed")
	c.transcript("g", `LIST "" "R*"`, `* LIST (\HasNoChildren) "/" R&-D`, "g OK LIST completed")
	// NFC normalisation: "e" + combining acute is stored as "é".
	c2.transcript("h", "CREATE \"Cafe\u0301\"", "h OK CREATE completed")
	if _, err := e.st.Mailbox(context.Background(), e.alice.ID, "Café"); err != nil {
		t.Fatalf("NFC name: %v", err)
	}
}

// TestAccountsAreSeparate: the same names in another account are other
// mailboxes, and no name reaches them.
func TestAccountsAreSeparate(t *testing.T) {
	e := newEnv(t)
	e.deliver(t, e.bob, "Subject: for bob\r\n\r\nx\r\n")
	c := loggedIn(t, e.plain(t))
	c.transcript("a", "STATUS INBOX (MESSAGES)", "* STATUS INBOX (MESSAGES 0)", "a OK STATUS completed")
	for _, name := range []string{`"../bob@example.test/INBOX"`, `"bob@example.test/INBOX"`, `"/INBOX"`} {
		got := c.run("b", "STATUS "+name+" (MESSAGES)")
		if len(got) != 1 || got[0][:4] != "b NO" {
			t.Fatalf("STATUS %s: %q", name, got)
		}
	}
}

func itoa[T ~uint32 | ~uint64 | ~int](n T) string {
	return fmtUint(uint64(n))
}

func fmtUint(n uint64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// TestStatusEnablesCondStore: STATUS HIGHESTMODSEQ is a CONDSTORE-enabling
// command; with a mailbox selected, its HIGHESTMODSEQ follows (RFC 7162
// §3.1), once.
func TestStatusEnablesCondStore(t *testing.T) {
	e := newEnv(t)
	e.deliver(t, e.alice, "Subject: one\r\n\r\n1\r\n")
	st, err := e.st.MailboxStatus(context.Background(), e.mailbox(t, e.alice, store.Inbox).ID)
	if err != nil {
		t.Fatal(err)
	}
	sent, err := e.st.MailboxStatus(context.Background(), e.mailbox(t, e.alice, "Sent").ID)
	if err != nil {
		t.Fatal(err)
	}
	c := loggedIn(t, e.plain(t))
	c.ok("a", "SELECT INBOX")
	hms := itoa(st.HighestModSeq)
	c.transcript("b", "STATUS Sent (HIGHESTMODSEQ)", "* STATUS Sent (HIGHESTMODSEQ "+itoa(sent.HighestModSeq)+")",
		"* OK [HIGHESTMODSEQ "+hms+"] CONDSTORE enabled", "b OK STATUS completed")
	c.transcript("c", "STATUS Sent (HIGHESTMODSEQ)", "* STATUS Sent (HIGHESTMODSEQ "+itoa(sent.HighestModSeq)+")", "c OK STATUS completed")

	// FETCH MODSEQ enables it too.
	c2 := loggedIn(t, e.plain(t))
	c2.ok("d", "SELECT INBOX")
	got := c2.run("e", "FETCH 1 (MODSEQ)")
	if len(got) != 3 || got[1] != "* OK [HIGHESTMODSEQ "+hms+"] CONDSTORE enabled" {
		t.Fatalf("FETCH MODSEQ: %q", got)
	}
}
