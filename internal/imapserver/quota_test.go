package imapserver

import (
	"context"
	"strings"
	"testing"
)

// QUOTA (RFC 9208): the account's STORAGE quota, GETQUOTAROOT and
// GETQUOTA, APPEND refused over quota, SETQUOTA refused.

func TestQuota(t *testing.T) {
	e := newEnv(t)
	c := loggedIn(t, e.plain(t))
	// No quota: no quota root.
	c.transcript("a", "GETQUOTAROOT INBOX", "* QUOTAROOT INBOX", "a OK GETQUOTAROOT completed")
	c.transcript("b", `GETQUOTA ""`, "b NO [NONEXISTENT] No such mailbox")

	if err := e.st.SetQuota(context.Background(), alice, 4096); err != nil {
		t.Fatal(err)
	}
	e.deliver(t, e.alice, "Subject: x\r\n\r\n"+strings.Repeat("y", 2000)+"\r\n")
	// RFC 9208 §4.3 example form; usage 2016 octets is 2 units of 1024.
	c.transcript("c", "GETQUOTAROOT INBOX", `* QUOTAROOT INBOX ""`, `* QUOTA "" (STORAGE 2 4)`, "c OK GETQUOTAROOT completed")
	c.transcript("d", `GETQUOTA ""`, `* QUOTA "" (STORAGE 2 4)`, "d OK GETQUOTA completed")
	c.transcript("e", `GETQUOTA "other"`, "e NO [NONEXISTENT] No such mailbox")
	c.transcript("f", "GETQUOTAROOT nothing", "f NO [NONEXISTENT] No such mailbox")
	// RFC 9208 §5.2: over quota, refused before the "+" is sent.
	c.transcript("g", "APPEND INBOX {3000}", "g NO [OVERQUOTA] Quota exceeded")
	// A non-synchronizing literal is read and thrown away; the session
	// goes on.
	c.transcript("h", "APPEND INBOX {3000+}\r\n"+strings.Repeat("z", 3000), "h NO [OVERQUOTA] Quota exceeded")
	c.Send("i APPEND INBOX {12}")
	c.Expect("+ ")
	c.Send("Subject: z\r\n")
	c.Expect("i OK [APPENDUID ")
	c.transcript("j", `SETQUOTA "" (STORAGE 512)`, "j NO [NOPERM] Quotas are set by the administrator")
}
