package submission

import (
	"context"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/posthorn/posthorn/internal/peercred"
	"github.com/posthorn/posthorn/internal/smtpserver"
)

// serveLocal runs the local submission policy (posthorn sendmail's
// socket) on a Unix socket beside e's store and returns a client factory.
func (e *env) serveLocal(anySender bool) func() *gosmtp.Client {
	e.t.Helper()
	path := filepath.Join(e.t.TempDir(), "sendmail.sock")
	ln, err := peercred.Listen(path, peercred.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	be := New(Options{Store: e.st, Hostname: e.hostname, SubaddressSeparator: "+", Local: true, LocalAnySender: anySender,
		Now: func() time.Time { return fixedNow }})
	srv := smtpserver.New(smtpserver.Options{Hostname: e.hostname}, be)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	})
	return func() *gosmtp.Client {
		nc, err := net.DialTimeout("unix", path, testTimeout)
		if err != nil {
			e.t.Fatal(err)
		}
		c := gosmtp.NewClient(nc)
		e.t.Cleanup(func() { c.Close() })
		return c
	}
}

func TestLocalSubmission(t *testing.T) {
	e := newEnv(t, envOpts{})
	dial := e.serveLocal(false)
	me := "uid " + strconv.Itoa(os.Getuid())
	if u, err := user.Current(); err == nil {
		me += " " + u.Username
	}

	// A web application sending as noreply@ of our domain, to a local
	// user and a remote one: no AUTH, Date and Message-ID added, the uid
	// in Received.
	c := dial()
	id, err := send(t, c, "www@mail.example.test", []string{"alice@example.test", "x@remote.test"},
		"From: Shop <noreply@example.test>\r\nSubject: order\r\n\r\nthanks\r\n")
	if err != nil {
		t.Fatalf("local submission: %v", err)
	}
	in := e.inbox("alice@example.test")
	if len(in) != 1 {
		t.Fatalf("alice has %d messages", len(in))
	}
	wantHead := "Return-Path: <www@mail.example.test>\r\nReceived: from local (" + me + ")\r\n\tby mail.example.test with ESMTP id " + id + ";\r\n\t" + dateStr + "\r\nDate: " + dateStr + "\r\nMessage-ID: <"
	if !strings.HasPrefix(in[0], wantHead) {
		t.Errorf("local copy starts\n%q\nwant\n%q", in[0][:min(len(in[0]), len(wantHead))], wantHead)
	}
	q := e.queue()
	if len(q) != 1 || q[0].AccountID != 0 || q[0].From != "www@mail.example.test" || len(q[0].Recipients) != 1 || q[0].Recipients[0] != "x@remote.test" {
		t.Errorf("queue %+v", q)
	}

	// Refusals: a foreign envelope sender at MAIL, a foreign From: at
	// the end of DATA; the null sender is fine.
	c = dial()
	wantCode(t, "foreign MAIL FROM", c.Mail("someone@bank.test", nil), 550, gosmtp.EnhancedCode{5, 7, 1})
	c.Reset()
	_, err = send(t, c, "www@example.test", []string{"bob@example.test"}, "From: <ceo@bank.test>\r\n\r\nx\r\n")
	wantCode(t, "foreign From:", err, 550, gosmtp.EnhancedCode{5, 7, 1})
	c.Reset()
	_, err = send(t, c, "www@example.test", []string{"bob@example.test"}, "From: <a@example.test>\r\nSender: <s@bank.test>\r\n\r\nx\r\n")
	wantCode(t, "foreign Sender:", err, 550, gosmtp.EnhancedCode{5, 7, 1})
	c.Reset()
	if _, err := send(t, c, "", []string{"bob@example.test"}, "From: <daemon@example.test>\r\n\r\nx\r\n"); err != nil {
		t.Errorf("null sender: %v", err)
	}
	_, err = send(t, c, "www@example.test", []string{"nobody@example.test"}, "From: <a@example.test>\r\n\r\nx\r\n")
	wantCode(t, "unknown local user", err, 550, gosmtp.EnhancedCode{5, 1, 1})
	c.Reset()
	// Our host name is not one of our domains: the queue could only
	// bounce root@ it, so it is refused at once.
	_, err = send(t, c, "www@example.test", []string{"root@mail.example.test"}, "From: <a@example.test>\r\n\r\nx\r\n")
	wantCode(t, "root@hostname", err, 550, gosmtp.EnhancedCode{5, 1, 1})
	if n := len(e.inbox("bob@example.test")); n != 1 {
		t.Errorf("bob has %d messages, want 1 (the null-sender one)", n)
	}

	// allow_any_sender lifts the domain rule.
	any := e.serveLocal(true)()
	if _, err := send(t, any, "someone@bank.test", []string{"bob@example.test"}, "From: <ceo@bank.test>\r\n\r\nx\r\n"); err != nil {
		t.Errorf("any sender: %v", err)
	}
}
