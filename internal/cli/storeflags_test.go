package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
