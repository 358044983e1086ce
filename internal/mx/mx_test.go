package mx

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/posthorn/posthorn/internal/store"
)

const msg = "From: <sender@remote.test>\r\nTo: <alice@example.test>\r\nSubject: test\r\n\r\nHello.\r\n..leading dot\r\nBye.\r\n"

// send delivers body with go-smtp's client and returns the queue id.
func send(t *testing.T, c *gosmtp.Client, from string, to []string, body string, opts *gosmtp.MailOptions) string {
	t.Helper()
	if err := c.Mail(from, opts); err != nil {
		t.Fatalf("MAIL: %v", err)
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			t.Fatalf("RCPT %s: %v", r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatalf("DATA: %v", err)
	}
	if _, err := w.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		t.Fatalf("end of DATA: %v", err)
	}
	return queuedID(t, resp.StatusText)
}

func dialClient(t *testing.T, e *env) *gosmtp.Client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", e.addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(testTimeout))
	c := gosmtp.NewClient(nc)
	t.Cleanup(func() { c.Close() })
	if err := c.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientPlain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	c := dialClient(t, e)
	id := send(t, c, "sender@remote.test", []string{"alice@example.test"}, msg, nil)
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	e.wantOne("alice@example.test", trace("sender@remote.test", "client.test", "ESMTP", id, "alice@example.test", "")+msg)
	if got := e.inbox("bob@example.test"); len(got) != 0 {
		t.Errorf("bob got %d messages", len(got))
	}
}

func TestClientSTARTTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	nc, err := net.DialTimeout("tcp", e.addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(testTimeout))
	c, err := gosmtp.NewClientStartTLS(nc, e.cliTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id := send(t, c, "sender@remote.test", []string{"alice@example.test"}, msg, nil)
	cs, _ := c.TLSConnectionState()
	if cs.Version != 0x0304 {
		t.Fatalf("TLS version %x", cs.Version)
	}
	want := trace("sender@remote.test", "localhost", "ESMTPS", id, "alice@example.test", "TLSv1.3 with cipher CIPHER") + msg
	if got := e.inbox("alice@example.test"); len(got) != 1 || anyCipher(got[0]) != want {
		t.Errorf("stored %q, want %q", got, want)
	}
}

// TestPipelinedAndDedup sends a pipelined transaction to an account, an
// alias covering it, and a subaddress of it: each account gets one copy,
// and the Received header names no recipient.
func TestPipelinedAndDedup(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	c := e.dialRaw()
	c.Write("EHLO client.test\r\nMAIL FROM:<>\r\nRCPT TO:<Alice@EXAMPLE.test>\r\nRCPT TO:<team@example.test>\r\nRCPT TO:<alice+tag@example.test>\r\nRCPT TO:<anyone@other.test>\r\nDATA\r\n")
	c.ExpectReply("250 ")
	for i := 0; i < 5; i++ {
		c.ExpectReply("250 2.0.0")
	}
	c.ExpectReply("354 ")
	body := "Subject: pipelined\r\n\r\nline\r\n"
	c.Write(body + ".\r\nQUIT\r\n")
	id := queuedID(t, c.ExpectReply("250 2.0.0 Ok: queued as "))
	c.ExpectReply("221 ")
	want := trace("", "client.test", "ESMTP", id, "", "") + body
	e.wantOne("alice@example.test", want)
	e.wantOne("bob@example.test", want)
}

func Test8BitBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	c := dialClient(t, e)
	body := "Subject: =?utf-8?q?gr=C3=BC=C3=9Fe?=\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße, \xff\xfe raw bytes\r\n"
	id := send(t, c, "sender@remote.test", []string{"bob@example.test"}, body, &gosmtp.MailOptions{Body: gosmtp.Body8BitMIME})
	e.wantOne("bob@example.test", trace("sender@remote.test", "client.test", "ESMTP", id, "bob@example.test", "")+body)
}

func TestSMTPUTF8(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	c := dialClient(t, e)
	body := "From: <sénder@remote.test>\r\nTo: <jöran@example.test>\r\nSubject: hej\r\n\r\nHej Jöran!\r\n"
	id := send(t, c, "sénder@remote.test", []string{"JÖRAN@example.test"}, body, &gosmtp.MailOptions{UTF8: true})
	e.wantOne("jöran@example.test", trace("sénder@remote.test", "client.test", "UTF8SMTP", id, "JÖRAN@example.test", "")+body)

	// Without SMTPUTF8, non-ASCII addresses are refused.
	r := e.dialRaw()
	r.Write("EHLO client.test\r\n")
	r.ExpectReply("250 ")
	r.Write("MAIL FROM:<sénder@remote.test>\r\n")
	r.ExpectReply("553 5.6.7")
	r.Write("MAIL FROM:<sender@remote.test>\r\n")
	r.ExpectReply("250 ")
	r.Write("RCPT TO:<jöran@example.test>\r\n")
	r.ExpectReply("553 5.6.7")
}

func TestBDAT(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	c := e.dialRaw()
	c.Write("EHLO client.test\r\nMAIL FROM:<sender@remote.test> BODY=8BITMIME\r\nRCPT TO:<alice@example.test>\r\n")
	c.ExpectReply("250 ")
	c.ExpectReply("250 ")
	c.ExpectReply("250 ")
	part1 := "Subject: chunks\r\n\r\n"
	part2 := ".no unstuffing in BDAT\r\n.\r\n"
	c.Write("BDAT " + itoa(len(part1)) + "\r\n" + part1)
	c.ExpectReply("250 2.0.0")
	c.Write("BDAT " + itoa(len(part2)) + " LAST\r\n" + part2)
	id := queuedID(t, c.ExpectReply("250 2.0.0 Ok: queued as "))
	e.wantOne("alice@example.test", trace("sender@remote.test", "client.test", "ESMTP", id, "alice@example.test", "")+part1+part2)
}

func itoa(n int) string {
	b := []byte{}
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}

func TestRejections(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{smtp: smtpserverOpts(4)})
	c := e.dialRaw()
	c.Write("EHLO client.test\r\n")
	c.ExpectReply("250 ")
	for _, st := range []struct{ send, want string }{
		{"MAIL FROM:<no-at-sign>\r\n", "501 "},
		{"MAIL FROM:<a@bad!domain.test>\r\n", "501 5.1.7"},
		{"MAIL FROM:<\"quoted sender\"@remote.test>\r\n", "250 "},
		{"RCPT TO:<someone@elsewhere.test>\r\n", "554 5.7.1 Relay access denied"},
		{"RCPT TO:<nobody@example.test>\r\n", "550 5.1.1 User unknown"},
		{"RCPT TO:<rcpt@bad!domain.test>\r\n", "501 5.1.3"},
		{"RCPT TO:<alice@example.test>\r\n", "421 4.7.0"},
	} {
		c.Write(st.send)
		c.ExpectReply(st.want)
	}
	if got := e.inbox("alice@example.test"); len(got) != 0 {
		t.Errorf("stored %q", got)
	}
}

// TestSmuggling: a bare-LF end-of-data probe must neither end the message
// nor smuggle a second one into the store; the message is refused.
func TestSmuggling(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	for _, probe := range []string{"\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n"} {
		c := e.dialRaw()
		c.Write("EHLO client.test\r\nMAIL FROM:<sender@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
		c.ExpectReply("250 ")
		c.ExpectReply("250 ")
		c.ExpectReply("250 ")
		c.ExpectReply("354 ")
		c.Write("Subject: one\r\n\r\nx" + probe + "MAIL FROM:<evil@remote.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n")
		c.ExpectReply("550 5.6.0")
		c.Write("QUIT\r\n")
		c.ExpectReply("221 ")
	}
	for _, a := range []string{"alice@example.test", "bob@example.test"} {
		if got := e.inbox(a); len(got) != 0 {
			t.Errorf("%s: stored %q", a, got)
		}
	}
}

// failingStore fails every Deliver.
type failingStore struct{ store.Store }

func (failingStore) Deliver(context.Context, store.Delivery) ([]store.Message, error) {
	return nil, errors.New("disk full")
}

func TestDeliverFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{wrap: func(s store.Store) store.Store { return failingStore{s} }})
	c := e.dialRaw()
	c.Write("EHLO client.test\r\nMAIL FROM:<sender@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
	c.ExpectReply("250 ")
	c.ExpectReply("250 ")
	c.ExpectReply("250 ")
	c.ExpectReply("354 ")
	c.Write("Subject: x\r\n\r\ny\r\n.\r\n")
	got := c.ExpectReply("451 4.3.0")
	if strings.Contains(got, "disk") {
		t.Errorf("reply leaks the error: %q", got)
	}
}

// TestPostmaster: RFC 5321 §4.5.1: postmaster@ every domain of ours is
// accepted, in any case, without an alias: it goes to the domain's oldest
// account (alice), and an alias takes precedence once made (the catch-all
// of other.test, then an explicit one).
func TestPostmaster(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	c := dialClient(t, e)
	send(t, c, "sender@remote.test", []string{"PostMaster@example.test"}, msg, nil)
	send(t, c, "sender@remote.test", []string{"postmaster@other.test"}, msg, nil)
	if got := len(e.inbox("alice@example.test")); got != 1 {
		t.Errorf("alice (oldest account of example.test) got %d messages, want 1", got)
	}
	if got := len(e.inbox("bob@example.test")); got != 1 {
		t.Errorf("bob (other.test's catch-all) got %d messages, want 1", got)
	}
	if err := e.st.AddAlias(context.Background(), "postmaster@example.test", []string{"bob@example.test"}); err != nil {
		t.Fatal(err)
	}
	send(t, c, "sender@remote.test", []string{"postmaster@example.test"}, msg, nil)
	if got := len(e.inbox("bob@example.test")); got != 2 {
		t.Errorf("bob (the postmaster alias) has %d messages, want 2", got)
	}
	// Not a domain of ours: still no relaying.
	if err := c.Mail("sender@remote.test", nil); err != nil {
		t.Fatal(err)
	}
	var se *gosmtp.SMTPError
	if err := c.Rcpt("postmaster@elsewhere.test", nil); !errors.As(err, &se) || se.Code != 554 {
		t.Errorf("postmaster@elsewhere.test: %v, want 554", err)
	}
}
