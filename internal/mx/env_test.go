package mx

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/certs/certstest"
	"github.com/posthorn/posthorn/internal/compose"
	"github.com/posthorn/posthorn/internal/smtpserver"
	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/sqlite"
	"github.com/posthorn/posthorn/internal/testutil/linetest"
)

const testTimeout = 10 * time.Second

// fixedNow is the clock of every test server, so trace headers are exact.
var fixedNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.FixedZone("", 3600))

const dateStr = "Sat, 14 Mar 2026 15:09:26 +0100"

// env is a running MX server on a fresh store: domain example.test with
// accounts alice, bob and jöran, alias team@ -> alice, bob, and
// other.test as a second domain with a catch-all to bob.
type env struct {
	t       testing.TB
	st      store.Store
	addr    string
	cliTLS  *tls.Config
	caFile  string // PEM of the server's self-signed certificate
	accts   map[string]store.Account
	srvOpts smtpserver.Options
}

type envOpts struct {
	wrap   func(store.Store) store.Store // wraps the store the policy sees
	smtp   smtpserver.Options
	checks *Checks
	routes bool // inbound routes from the store's endpoints (compose.Router)
}

func newEnv(t testing.TB, eo envOpts) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "store.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, st: st, accts: map[string]store.Account{}}
	for _, d := range []string{"example.test", "other.test"} {
		if err := st.AddDomain(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []string{"alice@example.test", "bob@example.test", "jöran@example.test"} {
		acct, err := st.AddAccount(ctx, a, store.Credentials{})
		if err != nil {
			t.Fatalf("AddAccount %s: %v", a, err)
		}
		e.accts[a] = acct
	}
	if err := st.AddAlias(ctx, "team@example.test", []string{"alice@example.test", "bob@example.test"}); err != nil {
		t.Fatal(err)
	}
	if err := st.AddAlias(ctx, "@other.test", []string{"bob@example.test"}); err != nil {
		t.Fatal(err)
	}

	var policyStore store.Store = st
	if eo.wrap != nil {
		policyStore = eo.wrap(st)
	}
	var routes RouteMatcher
	if eo.routes {
		routes = compose.NewRouter(st)
	}
	be := New(Options{Store: policyStore, Hostname: "mx.example.test", SubaddressSeparator: "+", Now: func() time.Time { return fixedNow }, Checks: eo.checks, Routes: routes})
	srvTLS, cliTLS := certstest.SelfSigned(t, "mx.example.test")
	e.cliTLS = cliTLS
	e.caFile = filepath.Join(t.TempDir(), "ca.pem")
	leaf := srvTLS.Certificates[0].Certificate[0]
	if err := os.WriteFile(e.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf}), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := eo.smtp
	opts.Hostname = "mx.example.test"
	opts.TLSConfig = srvTLS
	e.srvOpts = opts
	srv := smtpserver.New(opts, be)
	e.addr = linetest.Serve(t, srv, testTimeout)
	return e
}

// inbox returns the bodies in an account's INBOX, in UID order.
func (e *env) inbox(addr string) []string { return e.mailbox(addr, store.Inbox) }

// mailbox returns the bodies in one of an account's mailboxes.
func (e *env) mailbox(addr, name string) []string {
	e.t.Helper()
	ctx := context.Background()
	mb, err := e.st.Mailbox(ctx, e.accts[addr].ID, name)
	if err != nil {
		e.t.Fatal(err)
	}
	msgs, err := e.st.Messages(ctx, mb.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		b, err := e.st.MessageBody(ctx, m.ID)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// wantOne asserts addr's INBOX holds exactly one message with body want.
func (e *env) wantOne(addr, want string) {
	e.t.Helper()
	got := e.inbox(addr)
	if len(got) != 1 {
		e.t.Fatalf("%s has %d messages, want 1: %q", addr, len(got), got)
	}
	if got[0] != want {
		e.t.Errorf("%s stored\n%q\nwant\n%q", addr, got[0], want)
	}
}

// trace builds the expected trace headers.
func trace(from, helo, with, id, rcpt, tlsInfo string) string {
	s := "Return-Path: <" + from + ">\r\nReceived: from " + helo + " ([127.0.0.1])\r\n\tby mx.example.test with " + with + " id " + id
	if rcpt != "" {
		s += "\r\n\tfor <" + rcpt + ">"
	}
	if tlsInfo != "" {
		s += "\r\n\t(using " + tlsInfo + ")"
	}
	return s + ";\r\n\t" + dateStr + "\r\n"
}

// queuedID extracts the id from "250 2.0.0 Ok: queued as ID" (with or
// without the code).
func queuedID(t testing.TB, reply string) string {
	t.Helper()
	i := strings.Index(reply, "queued as ")
	if i < 0 {
		t.Fatalf("reply %q has no queue id", reply)
	}
	return strings.TrimSpace(reply[i+len("queued as "):])
}

// raw is a line-level SMTP client for transcripts.
type raw struct{ *linetest.Conn }

func (e *env) dialRaw() *raw {
	e.t.Helper()
	c := &raw{linetest.Dial(e.t, e.addr, testTimeout)}
	c.ExpectReply("220 ")
	return c
}

func smtpserverOpts(maxErrors int) smtpserver.Options {
	return smtpserver.Options{MaxErrors: maxErrors}
}
