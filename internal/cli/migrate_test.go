package cli

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/store/postgres/pgtest"
	"github.com/posthorn/posthorn/internal/store/storecopy"
)

// TestMigrateCommand: the target from the configuration's [store], the
// copy verified, a used target refused; and the refusals without a
// target or without a source.
func TestMigrateCommand(t *testing.T) {
	data := t.TempDir()
	if code, _, errOut := runCLI(t, "", "migrate", "-data-dir", data, "-to", "postgres://127.0.0.1:1/x"); code == 0 ||
		!strings.Contains(errOut, "embedded store") {
		t.Errorf("without DATA/mail.db: %d %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, "", "domain", "add", "-data-dir", data, "example.org"); code != 0 {
		t.Fatal(errOut)
	}
	if code, _, errOut := runCLI(t, "", "account", "add", "-data-dir", data, "-generate", "alice@example.org"); code != 0 {
		t.Fatal(errOut)
	}
	if code, _, errOut := runCLI(t, "", "migrate", "-data-dir", data); code != 2 || !strings.Contains(errOut, "-to DSN") {
		t.Errorf("without a target: %d %q", code, errOut)
	}

	dsn := pgtest.DSN(t)
	conf := filepath.Join(t.TempDir(), "posthorn.toml")
	if err := os.WriteFile(conf, []byte("hostname = \"mail.example.org\"\ndata_dir = \""+data+"\"\n[store]\nbackend = \"postgres\"\ndsn = \""+dsn+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "", "migrate", "-config", conf)
	if code != 0 || !strings.Contains(out, "no differences") || !strings.Contains(out, "1 accounts") {
		t.Fatalf("migrate: %d\n%s%s", code, out, errOut)
	}
	// The configured store is now PostgreSQL: the account is there.
	if code, out, errOut := runCLI(t, "", "account", "list", "-config", conf); code != 0 || !strings.Contains(out, "alice@example.org") {
		t.Errorf("account list on PostgreSQL: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "", "migrate", "-config", conf); code == 0 || !strings.Contains(errOut, "not empty") {
		t.Errorf("second migrate: %d %q", code, errOut)
	}
	// A writer holding the embedded store (a server still running in the
	// middle of a commit): migrate gives up after the busy timeout
	// instead of copying a store that is changing.
	db, err := sql.Open("sqlite", filepath.Join(data, "mail.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "", "migrate", "-data-dir", data, "-to", pgtest.DSN(t)); code == 0 ||
		!strings.Contains(errOut, "is the server still running?") {
		t.Errorf("migrate beside a writer: %d %q", code, errOut)
	}
	conn.ExecContext(context.Background(), "ROLLBACK")
	conn.Close()

	// A change on one side only: -verify-only names it and fails.
	if code, _, errOut := runCLI(t, "", "domain", "add", "-data-dir", data, "example.net"); code != 0 {
		t.Fatal(errOut)
	}
	code, out, _ = runCLI(t, "", "migrate", "-config", conf, "-verify-only")
	if code == 0 || !strings.Contains(out, "DIFFERENT: domain: example.net missing in the target") {
		t.Errorf("verify-only after a change: %d\n%s", code, out)
	}
}

func TestMigrateProgress(t *testing.T) {
	var out strings.Builder
	next := &storecopy.Counter{}
	p := &progress{Sink: next, w: &out, every: 0}
	ctx := context.Background()
	if err := p.Body(ctx, storecopy.Body{Data: make([]byte, 3<<20)}); err != nil {
		t.Fatal(err)
	}
	if err := p.Message(ctx, storecopy.Message{}); err != nil {
		t.Fatal(err)
	}
	if next.Counts.Bodies != 1 || next.Counts.Messages != 1 {
		t.Errorf("records not passed on: %+v", next.Counts)
	}
	if want := "copying messages: 1 messages, 3 MB of bodies so far\n"; !strings.HasSuffix(out.String(), want) {
		t.Errorf("progress %q, want it to end with %q", out.String(), want)
	}
}
