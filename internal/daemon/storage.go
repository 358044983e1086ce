package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/posthorn/posthorn/internal/config"
	"github.com/posthorn/posthorn/internal/dkim"
	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/postgres"
	"github.com/posthorn/posthorn/internal/store/sqlite"
)

// StoreFile is the embedded store's database inside the data directory.
const StoreFile = "mail.db"

// DKIMKeys is the directory of DKIM signing keys inside the data
// directory: DKIM/DOMAIN/SELECTOR.pem (see dkim.KeyDir). It is per node
// whatever the store: nodes sharing a PostgreSQL database need the same
// keys in each data directory (docs/scaling.md).
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

// OpenBackend opens the store that sc selects: the embedded one in dataDir
// (OpenStore), or the PostgreSQL database of sc's connection string
// (getenv reads config.StoreDSNEnv when the file names none), whose schema
// is created or upgraded. dataDir is created either way: the node's own
// files (DKIM keys, MTA-STS cache, greylist) live there.
func OpenBackend(ctx context.Context, sc config.Store, dataDir string, getenv func(string) string, logger *slog.Logger) (store.Store, error) {
	switch sc.Backend {
	case "", config.StoreSQLite:
		return OpenStore(ctx, dataDir, logger)
	case config.StorePostgres:
	default:
		return nil, fmt.Errorf("store: unknown backend %q", sc.Backend)
	}
	dsn, err := sc.PostgresDSN(getenv)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	st, err := postgres.Open(ctx, dsn, postgres.Options{Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("opening the PostgreSQL store: %w", err)
	}
	return st, nil
}
