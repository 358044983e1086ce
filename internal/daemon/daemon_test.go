package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/posthorn/posthorn/internal/auth"
	"github.com/posthorn/posthorn/internal/config"
	"github.com/posthorn/posthorn/internal/httpapi"
	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/testutil/syncbuf"
)

// startConfig parses doc, a configuration file, and starts a daemon
// with it; the daemon shuts down when the test ends.
func startConfig(t testing.TB, doc string, logger *slog.Logger) *Daemon {
	t.Helper()
	cfg, err := config.Parse("test.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return start(t, cfg, logger)
}

// start starts a daemon with cfg; it shuts down when the test ends.
func start(t testing.TB, cfg *config.Config, logger *slog.Logger) *Daemon {
	t.Helper()
	d, err := Start(context.Background(), cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d.Shutdown(ctx)
	})
	return d
}

// startDaemon runs a daemon on 127.0.0.1:0 with a fresh data directory,
// serving domain with one account user@domain.
func startDaemon(t *testing.T, domain string) (*Daemon, *syncbuf.Buffer) {
	t.Helper()
	doc := fmt.Sprintf(`hostname = "mx.%s"
domains = [%q]
data_dir = %q
[[listeners]]
role = "smtp"
address = "127.0.0.1:0"
[log]
format = "json"
`, domain, domain, t.TempDir())
	cfg, err := config.Parse("test.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncbuf.Buffer{}
	logger, err := NewLogger(logs, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		t.Fatal(err)
	}
	d := start(t, cfg, logger)
	cred, err := auth.NewCredentials("a-long-password")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Store().AddAccount(context.Background(), "user@"+domain, cred); err != nil {
		t.Fatalf("configured domain %s was not added to the store: %v", domain, err)
	}
	return d, logs
}

// addUserAndKey adds the account user@example.org (password
// "a-long-password") and an API key "shop" of example.org, and returns
// the key's token.
func addUserAndKey(t *testing.T, d *Daemon) string {
	t.Helper()
	ctx := context.Background()
	cred, err := auth.NewCredentials("a-long-password")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Store().AddAccount(ctx, "user@example.org", cred); err != nil {
		t.Fatal(err)
	}
	token, key := httpapi.NewKey()
	key.Name, key.Domain = "shop", "example.org"
	if _, err := d.Store().AddAPIKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	return token
}

// TestTwoDaemonsInOneProcess runs two daemons side by side (nothing global)
// and checks that each delivers into its own store only, and that each
// transaction is logged in one line without message content.
func TestTwoDaemonsInOneProcess(t *testing.T) {
	a, logsA := startDaemon(t, "a.example")
	b, _ := startDaemon(t, "b.example")

	send := func(d *Daemon, rcpt string) error {
		c, err := smtp.Dial(d.Addrs()["smtp"].String())
		if err != nil {
			return err
		}
		defer c.Close()
		return c.SendMail("sender@client.example", []string{rcpt},
			strings.NewReader("Subject: secret subject\r\n\r\nsecret body\r\n"))
	}
	if err := send(a, "user@a.example"); err != nil {
		t.Fatalf("delivery to a: %v", err)
	}
	if err := send(b, "user@a.example"); err == nil || !strings.Contains(err.Error(), "554") {
		t.Fatalf("daemon b accepted mail for a's domain: %v", err)
	}
	if n := inboxCount(t, a.Store(), "user@a.example"); n != 1 {
		t.Errorf("a's INBOX holds %d messages, want 1", n)
	}
	if n := inboxCount(t, b.Store(), "user@b.example"); n != 0 {
		t.Errorf("b's INBOX holds %d messages, want 0", n)
	}

	// One JSON line for the accepted transaction, with the fields operators
	// grep for, and nothing of the message itself.
	var found bool
	for _, line := range strings.Split(logsA.String(), "\n") {
		if strings.Contains(line, "secret") {
			t.Errorf("message content in the log: %s", line)
		}
		if !strings.Contains(line, `"smtp transaction"`) {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, line)
		}
		for _, k := range []string{"id", "client", "tls", "from", "rcpts", "size", "result", "duration"} {
			if _, ok := rec[k]; !ok {
				t.Errorf("transaction log line lacks %q: %s", k, line)
			}
		}
		if rec["result"] != float64(250) || rec["from"] != "sender@client.example" {
			t.Errorf("transaction log line: %s", line)
		}
		found = true
	}
	if !found {
		t.Fatalf("no transaction log line:\n%s", logsA.String())
	}
}

func inboxCount(t *testing.T, st store.Store, addr string) int {
	t.Helper()
	ctx := context.Background()
	acct, err := st.Account(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := st.Mailbox(ctx, acct.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	s, err := st.MailboxStatus(ctx, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	return s.Messages
}

// The start is logged with the store and the scheduler's CPU count, which
// operators check when several nodes share a machine.
func TestStartedLogSaysCPUs(t *testing.T) {
	_, logs := startDaemon(t, "example.org")
	var started map[string]any
	for _, line := range strings.Split(logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "started" {
			started = m
		}
	}
	if started == nil {
		t.Fatalf("no \"started\" line in the log:\n%s", logs.String())
	}
	if got, want := started["gomaxprocs"], float64(runtime.GOMAXPROCS(0)); got != want {
		t.Errorf("gomaxprocs = %v, want %v", got, want)
	}
	if got, want := started["cpus"], float64(runtime.NumCPU()); got != want {
		t.Errorf("cpus = %v, want %v", got, want)
	}
	if started["store"] != "sqlite" {
		t.Errorf("store = %v, want sqlite", started["store"])
	}
}
