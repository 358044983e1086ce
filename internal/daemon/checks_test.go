package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/posthorn/posthorn/internal/auth"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/internal/store"
)

// TestChecksFromConfig runs the receiving checks as configured by [dns]
// and [checks] (loopback not trusted, greylisting with a short delay),
// against the test's own DNS server: greylisted first, then a DMARC
// reject refused and a passing message stored with Authentication-Results.
func TestChecksFromConfig(t *testing.T) {
	srv := dnstest.Start(t,
		dnstest.Zone{Origin: "reject.test", Records: `@ TXT "v=spf1 -all"` + "\n" + `_dmarc TXT "v=DMARC1; p=reject"` + "\n"},
		dnstest.Zone{Origin: "ok.test", Records: `@ TXT "v=spf1 ip4:127.0.0.0/8 -all"` + "\n" + `_dmarc TXT "v=DMARC1; p=reject"` + "\n"},
	)
	dataDir := t.TempDir()
	doc := fmt.Sprintf(`hostname = "mx.checks.example"
domains = ["checks.example"]
data_dir = %q
[[listeners]]
role = "smtp"
address = "127.0.0.1:0"
[dns]
servers = [%q]
[checks]
trusted_networks = []
greylisting = true
greylist_delay = "1s"
`, dataDir, srv.Addr())
	d := startConfig(t, doc, slog.New(slog.DiscardHandler))
	cred, _ := auth.NewCredentials("a-long-password")
	if _, err := d.Store().AddAccount(context.Background(), "user@checks.example", cred); err != nil {
		t.Fatal(err)
	}
	send := func(from string) error {
		c, err := smtp.Dial(d.Addrs()["smtp"].String())
		if err != nil {
			return err
		}
		defer c.Close()
		return c.SendMail(from, []string{"user@checks.example"},
			strings.NewReader("From: <"+from+">\r\nSubject: checks\r\n\r\nbody\r\n"))
	}
	if err := send("x@reject.test"); !hasCode(err, 451, smtp.EnhancedCode{4, 7, 1}) {
		t.Fatalf("first attempt: %v, want 451 4.7.1 (greylisted)", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "greylist")); err != nil {
		t.Errorf("greylist state: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	var err error
	for {
		err = send("x@reject.test")
		if err == nil || !strings.Contains(err.Error(), "451") || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !hasCode(err, 550, smtp.EnhancedCode{5, 7, 1}) {
		t.Fatalf("retry: %v, want 550 5.7.1 (DMARC reject)", err)
	}
	if err := send("x@ok.test"); err != nil {
		t.Fatalf("passing message: %v", err)
	}
	ctx := context.Background()
	acct, _ := d.Store().Account(ctx, "user@checks.example")
	mb, _ := d.Store().Mailbox(ctx, acct.ID, store.Inbox)
	msgs, err := d.Store().Messages(ctx, mb.ID)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("INBOX: %d messages, %v", len(msgs), err)
	}
	body, _ := d.Store().MessageBody(ctx, msgs[0].ID)
	for _, want := range []string{"Authentication-Results: mx.checks.example;", "spf=pass smtp.mailfrom=x@ok.test", "dmarc=pass header.from=ok.test"} {
		if !strings.Contains(strings.ReplaceAll(string(body), "\r\n\t", " "), want) {
			t.Errorf("stored message lacks %q:\n%s", want, body)
		}
	}
}

func hasCode(err error, code int, enh smtp.EnhancedCode) bool {
	var se *smtp.SMTPError
	return errors.As(err, &se) && se.Code == code && se.EnhancedCode == enh
}
