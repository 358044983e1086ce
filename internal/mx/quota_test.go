package mx

import (
	"context"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// TestQuota: RFC 9208 storage quota at the MX. A full account's RCPT gets
// 452 4.2.2 (others in the same transaction are still accepted), so does
// one whose declared SIZE would not fit; a message that only turns out
// too big at the end of DATA gets 452 4.2.2 there and is not stored.
func TestQuota(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	alice := e.accts["alice@example.test"]
	inbox, err := e.st.Mailbox(ctx, alice.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetQuota(ctx, alice.Address, 2000); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Append(ctx, inbox.ID, store.AppendOptions{}, make([]byte, 1500)); err != nil {
		t.Fatal(err)
	}

	// 500 bytes left: a declared SIZE of 600 does not fit, 100 does.
	c := e.dialRaw()
	c.Write("EHLO client.test\r\n")
	c.ExpectReply("250 ")
	c.Write("MAIL FROM:<sender@remote.test> SIZE=600\r\n")
	c.ExpectReply("250 ")
	c.Write("RCPT TO:<alice@example.test>\r\n")
	c.ExpectReply("452 4.2.2 Mailbox full")
	c.Write("RCPT TO:<team@example.test>\r\n") // an alias reaching alice
	c.ExpectReply("452 4.2.2")
	c.Write("RSET\r\n")
	c.ExpectReply("250 ")

	// No SIZE: RCPT passes, the message is too big for what is left.
	c.Write("MAIL FROM:<sender@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
	c.ExpectReply("250 ")
	c.ExpectReply("250 ")
	c.ExpectReply("354 ")
	c.Write("Subject: big\r\n\r\n" + strings.Repeat("0123456789\r\n", 60) + ".\r\n")
	c.ExpectReply("452 4.2.2 Mailbox full")
	if got := e.inbox(alice.Address); len(got) != 1 {
		t.Errorf("alice's INBOX holds %d messages, want the 1 appended", len(got))
	}

	// Full: every RCPT for alice is refused, bob's is not, and a message
	// to both reaches bob.
	if _, err := e.st.Append(ctx, inbox.ID, store.AppendOptions{}, make([]byte, 500)); err != nil {
		t.Fatal(err)
	}
	c.Write("MAIL FROM:<sender@remote.test>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
	c.ExpectReply("250 ")
	c.ExpectReply("452 4.2.2")
	c.ExpectReply("250 ")
	c.ExpectReply("354 ")
	c.Write("Subject: small\r\n\r\nhi\r\n.\r\n")
	c.ExpectReply("250 ")
	if got := e.inbox("bob@example.test"); len(got) != 1 {
		t.Errorf("bob's INBOX holds %d messages, want 1", len(got))
	}
	c.Write("QUIT\r\n")
	c.ExpectReply("221 ")

	// Unlimited again: accepted.
	if err := e.st.SetQuota(ctx, alice.Address, 0); err != nil {
		t.Fatal(err)
	}
	c = e.dialRaw()
	c.Write("EHLO client.test\r\nMAIL FROM:<sender@remote.test> SIZE=600\r\nRCPT TO:<alice@example.test>\r\n")
	c.ExpectReply("250 ")
	c.ExpectReply("250 ")
	c.ExpectReply("250 ")
}

// pyFull sends with smtplib to a full mailbox and prints how the server
// refused it.
const pyFull = `
import smtplib, sys
host, port, rcpt = sys.argv[1:4]
s = smtplib.SMTP(host, int(port), local_hostname='client.test', timeout=10)
try:
    s.sendmail('sender@remote.test', [rcpt], b'Subject: full\r\n\r\nHello.\r\n')
    print('accepted')
except smtplib.SMTPRecipientsRefused as e:
    code, msg = e.recipients[rcpt]
    print(code, msg.decode())
s.quit()
`

// TestQuotaPython: Python's smtplib sees a full account's recipient
// refused with 452 4.2.2 (a temporary failure: it retries later).
func TestQuotaPython(t *testing.T) {
	t.Parallel()
	py := tools.Look(t, "python3")
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	if err := e.st.SetQuota(ctx, "bob@example.test", 10); err != nil {
		t.Fatal(err)
	}
	inbox, err := e.st.Mailbox(ctx, e.accts["bob@example.test"].ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Append(ctx, inbox.ID, store.AppendOptions{}, []byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(e.addr, ":")
	out := strings.TrimSpace(runTool(t, py, "-c", pyFull, host, port, "bob@example.test"))
	if out != "452 4.2.2 Mailbox full" {
		t.Errorf("smtplib got %q, want 452 4.2.2 Mailbox full", out)
	}
	if got := e.inbox("bob@example.test"); len(got) != 1 {
		t.Errorf("bob's INBOX holds %d messages, want the 1 appended", len(got))
	}
}
