package imapserver

import (
	"context"

	"crypto/tls"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/auth"
	"github.com/posthorn/posthorn/internal/store"

	"github.com/xdg-go/scram"
)

// AUTHENTICATE (RFC 9051 §6.2.2) with SASL-IR (RFC 4959), PLAIN,
// SCRAM-SHA-256 and SCRAM-SHA-256-PLUS over the real auth service.

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// tlsClient dials a server with STARTTLS and returns the client after
// the handshake.
func tlsClient(t *testing.T, e *testEnv) *client {
	t.Helper()
	srvTLS, cliTLS := testTLS(t)
	_, addr := e.start(t, Options{TLSConfig: srvTLS})
	c := dialGreeted(t, addr)
	c.ok("s", "STARTTLS")
	c.StartTLS(cliTLS)
	return c
}

func TestAuthenticatePlainSASLIR(t *testing.T) {
	e := newEnv(t)
	c := tlsClient(t, e)
	c.transcript("a", "AUTHENTICATE PLAIN "+b64("\x00"+alice+"\x00wrong"), "a NO [AUTHENTICATIONFAILED] Authentication failed")
	c.transcript("b", "AUTHENTICATE X-UNKNOWN", "b NO [CANNOT] Unsupported authentication mechanism")
	c.transcript("c", "AUTHENTICATE PLAIN QQ", "c BAD Invalid base64 in initial response")
	got := c.run("d", "AUTHENTICATE PLAIN "+b64("\x00"+alice+"\x00"+alicePW))
	if len(got) != 1 || !strings.HasPrefix(got[0], "d OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+") {
		t.Fatalf("AUTHENTICATE PLAIN: %q", got)
	}
}

func TestAuthenticatePlainContinuationAndCancel(t *testing.T) {
	e := newEnv(t)
	c := tlsClient(t, e)
	c.Send("a AUTHENTICATE PLAIN")
	if got := c.Line(); got != "+ " {
		t.Fatalf("challenge %q, want %q", got, "+ ")
	}
	c.Send("*")
	if got := c.Line(); got != "a BAD AUTHENTICATE cancelled" {
		t.Fatalf("cancel: %q", got)
	}
	c.Send("b AUTHENTICATE PLAIN")
	c.Expect("+ ")
	c.Send(b64("\x00" + bob + "\x00" + bobPW))
	c.Expect("b OK [CAPABILITY ")
	c.transcript("c", `LIST "" INBOX`, `* LIST (\HasNoChildren) "/" INBOX`, "c OK LIST completed")
}

// scramLogin runs AUTHENTICATE with a SCRAM client conversation.
func scramLogin(t *testing.T, c *client, mech string, conv *scram.ClientConversation) string {
	t.Helper()
	first, err := conv.Step("")
	if err != nil {
		t.Fatal(err)
	}
	c.Send("a AUTHENTICATE " + mech + " " + b64(first))
	for {
		l := c.Line()
		if strings.HasPrefix(l, "a ") {
			return l
		}
		if !strings.HasPrefix(l, "+ ") {
			t.Fatalf("unexpected %q", l)
		}
		chal, err := base64.StdEncoding.DecodeString(l[2:])
		if err != nil {
			t.Fatal(err)
		}
		resp, err := conv.Step(string(chal))
		if err != nil {
			t.Fatalf("client step: %v", err)
		}
		c.Send(b64(resp))
	}
}

func TestAuthenticateSCRAM(t *testing.T) {
	e := newEnv(t)
	c := tlsClient(t, e)
	cl, _ := scram.SHA256.NewClient(alice, "wrong", "")
	if got := scramLogin(t, c, "SCRAM-SHA-256", cl.NewConversation()); got != "a NO [AUTHENTICATIONFAILED] Authentication failed" {
		t.Fatalf("wrong password: %q", got)
	}
	cl, _ = scram.SHA256.NewClient(alice, alicePW, "")
	conv := cl.NewConversation()
	if got := scramLogin(t, c, "SCRAM-SHA-256", conv); !strings.HasPrefix(got, "a OK [CAPABILITY ") {
		t.Fatalf("SCRAM: %q", got)
	}
	if !conv.Valid() {
		t.Fatal("server signature not verified by the client")
	}
}

func TestAuthenticateSCRAMPlus(t *testing.T) {
	e := newEnv(t)
	c := tlsClient(t, e)
	cs := c.NC.(*tls.Conn).ConnectionState()
	cb, err := scram.NewTLSExporterBinding(&cs)
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := scram.SHA256.NewClient(alice, alicePW, "")
	conv := cl.NewConversationWithChannelBinding(cb)
	if got := scramLogin(t, c, "SCRAM-SHA-256-PLUS", conv); !strings.HasPrefix(got, "a OK [CAPABILITY ") || !conv.Valid() {
		t.Fatalf("SCRAM-SHA-256-PLUS: %q", got)
	}
}

// TestAppPasswordLogin: an app password works with LOGIN and PLAIN.
func TestAppPasswordLogin(t *testing.T) {
	e := newEnv(t)
	c := tlsClient(t, e)
	pw := addAppPassword(t, e, alice)
	c.ok("a", `LOGIN `+alice+` `+pw)
	c2 := tlsClient(t, e)
	c2.ok("b", "AUTHENTICATE PLAIN "+b64("\x00"+alice+"\x00"+pw))
}

// addAppPassword gives addr a generated app password and returns it.
func addAppPassword(t *testing.T, e *testEnv, addr string) string {
	t.Helper()
	pw := auth.GeneratePassword()
	hash, err := auth.HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.AddAppPassword(context.Background(), addr, "phone", store.Credentials{PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	return pw
}
