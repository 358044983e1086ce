package submission

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
	"github.com/xdg-go/scram"

	"github.com/posthorn/posthorn/internal/auth"
	"github.com/posthorn/posthorn/internal/store"
)

const msgBody = "From: Alice <alice@example.test>\r\nTo: <bob@example.test>\r\nSubject: test\r\n\r\nHello.\r\n..leading dot\r\n"

func plainIR(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
}

// client587 is go-smtp's client after STARTTLS and EHLO.
func (e *env) client587() *gosmtp.Client {
	e.t.Helper()
	nc, err := net.DialTimeout("tcp", e.addr587, testTimeout)
	if err != nil {
		e.t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(testTimeout))
	// go-smtp greets as "localhost", before and after STARTTLS.
	c, err := gosmtp.NewClientStartTLS(nc, e.cliTLS)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// client465 is go-smtp's client over implicit TLS.
func (e *env) client465() *gosmtp.Client {
	e.t.Helper()
	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: testTimeout}, "tcp", e.addr465, e.cliTLS)
	if err != nil {
		e.t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(testTimeout))
	c := gosmtp.NewClient(nc)
	e.t.Cleanup(func() { c.Close() })
	if err := c.Hello("client.test"); err != nil {
		e.t.Fatal(err)
	}
	return c
}

// send runs one transaction and returns the transaction id.
func send(t *testing.T, c *gosmtp.Client, from string, to []string, body string) (string, error) {
	t.Helper()
	if err := c.Mail(from, nil); err != nil {
		return "", err
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			return "", err
		}
	}
	w, err := c.Data()
	if err != nil {
		return "", err
	}
	if _, err := w.Write([]byte(body)); err != nil {
		return "", err
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		return "", err
	}
	_, id, _ := strings.Cut(resp.StatusText, "queued as ")
	return strings.TrimSpace(id), nil
}

// wantCode checks err is an SMTP error with the code and enhanced code.
func wantCode(t *testing.T, what string, err error, code int, enh gosmtp.EnhancedCode) {
	t.Helper()
	var se *gosmtp.SMTPError
	if !errors.As(err, &se) || se.Code != code || se.EnhancedCode != enh {
		t.Errorf("%s: got %v, want %d %v", what, err, code, enh)
	}
}

// receivedField is the Received field the policy writes.
func receivedField(helo, with, id, rcpt string) string {
	s := "Received: from " + helo + " ([127.0.0.1])\r\n\tby mail.example.test with " + with + " id " + id
	if rcpt != "" {
		s += "\r\n\tfor <" + rcpt + ">"
	}
	return s + "\r\n\t(using TLSv1.3 with cipher CIPHER);\r\n\t" + dateStr + "\r\n"
}

var messageIDRe = regexp.MustCompile(`Message-ID: <[0-9a-z]{26}@mail\.example\.test>\r\n`)

// anyCipher replaces the TLS 1.3 cipher suite (it depends on the CPU) and
// a generated Message-ID with placeholders.
func anyCipher(s string) string {
	s = strings.NewReplacer("TLS_AES_128_GCM_SHA256", "CIPHER", "TLS_AES_256_GCM_SHA384", "CIPHER",
		"TLS_CHACHA20_POLY1305_SHA256", "CIPHER").Replace(s)
	return messageIDRe.ReplaceAllString(s, "Message-ID: <ID>\r\n")
}

const fixups = "Date: " + dateStr + "\r\nMessage-ID: <ID>\r\n"

func TestSubmitLocalSTARTTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	c := e.client587()
	if err := c.Auth(sasl.NewPlainClient("", "alice@example.test", alicePW)); err != nil {
		t.Fatal(err)
	}
	id, err := send(t, c, "alice@example.test", []string{"Bob@example.test"}, msgBody)
	if err != nil {
		t.Fatal(err)
	}
	want := "Return-Path: <alice@example.test>\r\n" + receivedField("localhost", "ESMTPSA", id, "Bob@example.test") + fixups + msgBody
	if got := e.inbox("bob@example.test"); len(got) != 1 || anyCipher(got[0]) != want {
		t.Errorf("bob's INBOX = %q\nwant %q", got, want)
	}
	if q := e.queue(); len(q) != 0 {
		t.Errorf("a local message went into the outbound queue: %+v", q)
	}
}

func TestSubmitImplicitTLSLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	c := e.client465()
	if err := c.Auth(sasl.NewLoginClient("bob@example.test", bobPW)); err != nil {
		t.Fatal(err)
	}
	body := "From: bob@example.test\r\nDate: Fri, 13 Mar 2026 10:00:00 +0000\r\nMessage-ID: <own@example.test>\r\nSubject: x\r\n\r\nHi\r\n"
	id, err := send(t, c, "bob@example.test", []string{"team@example.test"}, body)
	if err != nil {
		t.Fatal(err)
	}
	// The client's Date and Message-ID stay; nothing is added.
	want := "Return-Path: <bob@example.test>\r\n" + receivedField("client.test", "ESMTPSA", id, "team@example.test") + body
	for _, a := range []string{"alice@example.test", "bob@example.test"} {
		if got := e.inbox(a); len(got) != 1 || anyCipher(got[0]) != want {
			t.Errorf("%s: %q\nwant %q", a, got, want)
		}
	}
}

// scramClient adapts xdg-go/scram's client to go-sasl.
type scramClient struct {
	conv *scram.ClientConversation
}

func (s *scramClient) Start() (string, []byte, error) {
	first, err := s.conv.Step("")
	return "SCRAM-SHA-256", []byte(first), err
}

func (s *scramClient) Next(challenge []byte) ([]byte, error) {
	resp, err := s.conv.Step(string(challenge))
	if err != nil {
		return nil, err
	}
	return []byte(resp), nil // "" after the server-final message: an empty response
}

func TestSubmitSCRAM(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	newConv := func(pw string) *scramClient {
		cl, err := scram.SHA256.NewClient("alice@example.test", pw, "")
		if err != nil {
			t.Fatal(err)
		}
		return &scramClient{cl.NewConversation()}
	}
	c := e.client465()
	err := c.Auth(newConv("wrong"))
	wantCode(t, "SCRAM with a wrong password", err, 535, gosmtp.EnhancedCode{5, 7, 8})
	if err := c.Auth(newConv(alicePW)); err != nil {
		t.Fatalf("SCRAM-SHA-256: %v", err)
	}
	if _, err := send(t, c, "alice@example.test", []string{"bob@example.test"}, msgBody); err != nil {
		t.Fatal(err)
	}
	if got := e.inbox("bob@example.test"); len(got) != 1 {
		t.Errorf("bob has %d messages", len(got))
	}
}

func TestSubmitRemoteQueued(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	c := e.client587()
	if err := c.Auth(sasl.NewPlainClient("", "alice@example.test", alicePW)); err != nil {
		t.Fatal(err)
	}
	body := "From: alice@example.test\r\nSubject: out\r\n\r\nbye\r\n"
	id, err := send(t, c, "alice@example.test", []string{"Someone@Remote.TEST", "bob@example.test", "someone@remote.test", "x@elsewhere.test"}, body)
	if err != nil {
		t.Fatal(err)
	}
	q := e.queue()
	if len(q) != 1 {
		t.Fatalf("queue = %+v, want one message", q)
	}
	m := q[0]
	// The local part keeps its case (only the remote host may fold it);
	// exact duplicates go once.
	if m.From != "alice@example.test" || !slices.Equal(m.Recipients, []string{"Someone@remote.test", "someone@remote.test", "x@elsewhere.test"}) ||
		m.AccountID != e.accts["alice@example.test"].ID || m.UTF8 {
		t.Errorf("queued %+v", m)
	}
	// No Return-Path in the queued copy; the final hop adds it.
	wantQ := receivedField("localhost", "ESMTPSA", id, "") + fixups + body
	if got := anyCipher(string(m.Body)); got != wantQ {
		t.Errorf("queued body %q\nwant %q", got, wantQ)
	}
	wantL := "Return-Path: <alice@example.test>\r\n" + wantQ
	if got := e.inbox("bob@example.test"); len(got) != 1 || anyCipher(got[0]) != wantL {
		t.Errorf("bob: %q\nwant %q", got, wantL)
	}
}

func TestHideClientIP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{hideClientIP: true})
	c := e.client465()
	if err := c.Auth(sasl.NewPlainClient("", "alice@example.test", alicePW)); err != nil {
		t.Fatal(err)
	}
	id, err := send(t, c, "alice@example.test", []string{"bob@example.test"}, msgBody)
	if err != nil {
		t.Fatal(err)
	}
	got := e.inbox("bob@example.test")
	want := "Return-Path: <alice@example.test>\r\nReceived: by mail.example.test with ESMTPSA id " + id +
		"\r\n\tfor <bob@example.test>\r\n\t(using TLSv1.3 with cipher CIPHER);\r\n\t" + dateStr + "\r\n" + fixups + msgBody
	if len(got) != 1 || anyCipher(got[0]) != want {
		t.Errorf("stored %q\nwant %q", got, want)
	}
	if strings.Contains(got[0], "127.0.0.1") || strings.Contains(got[0], "client.test") {
		t.Error("client IP or helo in the message")
	}
}

// TestSenderRights: MAIL FROM and From: must be owned: own address,
// subaddress, alias pointing to the account, or the whole domain with
// MaySendAsDomain; never via a catch-all.
func TestSenderRights(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	login := func(user, pw string) *gosmtp.Client {
		c := e.client587()
		if err := c.Auth(sasl.NewPlainClient("", user, pw)); err != nil {
			t.Fatal(err)
		}
		return c
	}
	notOwned := gosmtp.EnhancedCode{5, 7, 1}
	alice := login("alice@example.test", alicePW)
	for _, from := range []string{"alice@example.test", "Alice@EXAMPLE.test", "alice+lists@example.test", "sales@example.test", "team@example.test", ""} {
		hdr := from
		if hdr == "" {
			hdr = "alice@example.test" // null sender, owned From:
		}
		if _, err := send(t, alice, from, []string{"bob@example.test"}, "From: "+hdr+"\r\n\r\nx\r\n"); err != nil {
			t.Errorf("alice sending as <%s>: %v", from, err)
		}
	}
	for _, from := range []string{"bob@example.test", "anyone@other.test", "nobody@example.test", "alice@remote.test"} {
		_, err := send(t, alice, from, []string{"bob@example.test"}, "From: "+from+"\r\n\r\nx\r\n")
		wantCode(t, "MAIL FROM:<"+from+">", err, 550, notOwned)
		alice.Reset()
	}
	// The envelope is hers, the header is not.
	for _, from := range []string{"Bob <bob@example.test>", "alice@example.test, bob@example.test"} {
		_, err := send(t, alice, "alice@example.test", []string{"bob@example.test"}, "From: "+from+"\r\n\r\nx\r\n")
		wantCode(t, "From: "+from, err, 550, notOwned)
	}
	_, err := send(t, alice, "alice@example.test", []string{"bob@example.test"}, "From: alice@example.test\r\nSender: bob@example.test\r\n\r\nx\r\n")
	wantCode(t, "Sender: bob", err, 550, notOwned)

	carol := login("carol@example.test", carolPW)
	if _, err := send(t, carol, "noreply@example.test", []string{"bob@example.test"}, "From: noreply@example.test\r\n\r\nx\r\n"); err != nil {
		t.Errorf("carol (may send as the domain) as noreply@: %v", err)
	}
	_, err = send(t, carol, "noreply@other.test", []string{"bob@example.test"}, "From: noreply@other.test\r\n\r\nx\r\n")
	wantCode(t, "carol as another domain", err, 550, notOwned)
}

func TestFixups(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	c := e.client587()
	if err := c.Auth(sasl.NewPlainClient("", "alice@example.test", alicePW)); err != nil {
		t.Fatal(err)
	}
	// No From: it comes from the envelope.
	id, err := send(t, c, "alice@example.test", []string{"bob@example.test"}, "Subject: none\r\n\r\nx\r\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "Return-Path: <alice@example.test>\r\n" + receivedField("localhost", "ESMTPSA", id, "bob@example.test") +
		"From: <alice@example.test>\r\n" + fixups + "Subject: none\r\n\r\nx\r\n"
	if got := e.inbox("bob@example.test"); len(got) != 1 || anyCipher(got[0]) != want {
		t.Errorf("stored %q\nwant %q", got, want)
	}
	// No From and the null sender: refused.
	_, err = send(t, c, "", []string{"bob@example.test"}, "Subject: none\r\n\r\nx\r\n")
	wantCode(t, "no From, null sender", err, 550, gosmtp.EnhancedCode{5, 6, 0})
	_, err = send(t, c, "alice@example.test", []string{"bob@example.test"}, " folded first line\r\n\r\nx\r\n")
	wantCode(t, "malformed header", err, 550, gosmtp.EnhancedCode{5, 6, 0})
	// Unknown local users are refused at RCPT.
	err = c.Mail("alice@example.test", nil)
	if err == nil {
		err = c.Rcpt("nobody@example.test", nil)
	}
	wantCode(t, "RCPT unknown local user", err, 550, gosmtp.EnhancedCode{5, 1, 1})
}

// TestRefusals walks through what the issue lists as refused.
func TestRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	ctx := context.Background()

	// AUTH and MAIL before STARTTLS; no AUTH advertised in plain text.
	r := e.dial587()
	r.Write("EHLO client.test\r\n")
	if ehlo := r.expectAll("250 "); strings.Contains(ehlo, "AUTH") || !strings.Contains(ehlo, "STARTTLS") {
		t.Errorf("plain-text EHLO: %q", ehlo)
	}
	r.Write("AUTH PLAIN " + plainIR("alice@example.test", alicePW) + "\r\n")
	r.ExpectReply("530 5.7.0 Must issue a STARTTLS command first")
	r.Write("MAIL FROM:<alice@example.test>\r\n")
	r.ExpectReply("530 5.7.0 Must issue a STARTTLS command first")

	// In TLS, no relay (or any mail) without AUTH.
	if ehlo := r.startTLS(e.cliTLS); !strings.Contains(ehlo, "AUTH SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN LOGIN") {
		t.Errorf("EHLO in TLS: %q", ehlo)
	}
	r.Write("MAIL FROM:<someone@remote.test>\r\n")
	r.ExpectReply("530 5.7.0 Authentication required")
	r.Write("RCPT TO:<victim@remote.test>\r\n")
	r.ExpectReply("502 5.5.1") // no transaction

	// Wrong password.
	r.Write("AUTH PLAIN " + plainIR("alice@example.test", "not-her-password") + "\r\n")
	r.ExpectReply("535 5.7.8")

	// A revoked app password.
	app := auth.GeneratePassword()
	hash, _ := auth.HashPassword(app)
	if _, err := e.st.AddAppPassword(ctx, "alice@example.test", "phone", store.Credentials{PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	r2 := e.dial465()
	r2.Write("EHLO client.test\r\nAUTH PLAIN " + plainIR("alice@example.test", app) + "\r\n")
	r2.ExpectReply("250 ")
	r2.ExpectReply("235 ")
	if err := e.st.RemoveAppPassword(ctx, "alice@example.test", "phone"); err != nil {
		t.Fatal(err)
	}
	r3 := e.dial465()
	r3.Write("EHLO client.test\r\nAUTH PLAIN " + plainIR("alice@example.test", app) + "\r\n")
	r3.ExpectReply("250 ")
	r3.ExpectReply("535 5.7.8")
	// The revocation does not end the session already logged in.
	r2.Write("MAIL FROM:<alice@example.test>\r\n")
	r2.ExpectReply("250 ")
}

// TestBruteForceLockout: after N failures the correct password is still
// refused (454 4.7.0) within the window, on either port, from a new
// connection.
func TestBruteForceLockout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{throttle: auth.ThrottleOptions{MaxFailuresPerAccount: 3, MaxFailuresPerIP: 100}})
	r := e.dial465()
	r.Write("EHLO client.test\r\n")
	r.ExpectReply("250 ")
	for i := range 3 {
		r.Write("AUTH PLAIN " + plainIR("bob@example.test", "guess-"+string(rune('a'+i))) + "\r\n")
		r.ExpectReply("535 5.7.8")
	}
	r.Write("AUTH PLAIN " + plainIR("bob@example.test", bobPW) + "\r\n")
	r.ExpectReply("454 4.7.0")
	c := e.client587()
	err := c.Auth(sasl.NewLoginClient("bob@example.test", bobPW))
	wantCode(t, "correct password on 587 during the lockout", err, 454, gosmtp.EnhancedCode{4, 7, 0})
	// Another account from the same client is not locked.
	if err := c.Auth(sasl.NewPlainClient("", "alice@example.test", alicePW)); err != nil {
		t.Errorf("alice during bob's lockout: %v", err)
	}
}

// TestSTARTTLSPipelined: an AUTH (or MAIL) pipelined behind STARTTLS in
// plain text is never executed (RFC 3207 §4.2).
func TestSTARTTLSPipelined(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	r := e.dial587()
	r.Write("EHLO client.test\r\n")
	r.ExpectReply("250 ")
	r.Write("STARTTLS\r\nAUTH PLAIN " + plainIR("alice@example.test", alicePW) + "\r\nMAIL FROM:<alice@example.test>\r\n")
	r.upgrade(e.cliTLS)
	// Had the AUTH run, this MAIL would be accepted.
	r.Write("MAIL FROM:<alice@example.test>\r\n")
	r.ExpectReply("530 5.7.0 Authentication required")
}
