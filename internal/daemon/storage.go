package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/posthorn/posthorn/internal/dkim"
	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/sqlite"
)

// StoreFile is the embedded store's database inside the data directory.
const StoreFile = "mail.db"

// DKIMKeys is the directory of DKIM signing keys inside the data
// directory: DKIM/DOMAIN/SELECTOR.pem (see dkim.KeyDir).
func DKIMKeys(dataDir string) dkim.KeyDir {
	return dkim.KeyDir{Dir: filepath.Join(dataDir, "dkim")}
}

// OpenStore opens (creating when needed) the embedded store in dataDir. The
// server and the administration commands both use it, so a CLI command can
// run beside a running server: SQLite's WAL mode lets both write safely.
func OpenStore(ctx context.Context, dataDir string, logger *slog.Logger) (store.Store, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(dataDir, StoreFile), sqlite.Options{Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("opening store in %s: %w", dataDir, err)
	}
	return st, nil
}
