package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/store/postgres/pgtest"
)

// TestStoreBackendMissingDSN: a configuration on PostgreSQL without a
// connection string fails every store command with what to set.
func TestStoreBackendMissingDSN(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "posthorn.toml")
	text := "hostname = \"mail.example.org\"\ndata_dir = " + `"` + filepath.Join(dir, "data") + `"` + "\n[store]\nbackend = \"postgres\"\n"
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "", "domain", "list", "-config", cfg)
	if code == 0 || !strings.Contains(stderr, "set [store] dsn or dsn_file, or the environment variable POSTHORN_STORE_DSN") {
		t.Fatalf("domain list: code %d, stderr %q", code, stderr)
	}
}

// TestStoreBackendPostgres: with [store] backend "postgres" and the
// connection string in $POSTHORN_STORE_DSN, the administration commands
// work on that database; -data-dir alone still means the embedded store.
func TestStoreBackendPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "posthorn.toml")
	text := "hostname = \"mail.example.org\"\ndata_dir = " + `"` + filepath.Join(dir, "data") + `"` + "\n[store]\nbackend = \"postgres\"\n"
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	withDSN := func(env *Env) {
		env.Getenv = func(k string) string {
			if k == "POSTHORN_STORE_DSN" {
				return dsn
			}
			return ""
		}
	}
	if code, _, stderr := runCLIWith(t, withDSN, "", "domain", "add", "-config", cfg, "example.org"); code != 0 {
		t.Fatalf("domain add: %s", stderr)
	}
	if code, _, stderr := runCLIWith(t, withDSN, "s3cret-passw0rd\n", "account", "add", "-config", cfg, "alice@example.org"); code != 0 {
		t.Fatalf("account add: %s", stderr)
	}
	// A second "node": another data directory, the same database.
	other := filepath.Join(t.TempDir(), "posthorn.toml")
	if err := os.WriteFile(other, []byte(strings.Replace(text, dir, filepath.Dir(other), 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := runCLIWith(t, withDSN, "", "account", "list", "-config", other); code != 0 || !strings.Contains(stdout, "alice@example.org") {
		t.Fatalf("account list through another configuration: %d %q %q", code, stdout, stderr)
	}
	if code, stdout, _ := runCLI(t, "", "domain", "list", "-data-dir", filepath.Join(dir, "data")); code != 0 || strings.Contains(stdout, "example.org") {
		t.Fatalf("domain list -data-dir: %d %q, want the (empty) embedded store", code, stdout)
	}
}
