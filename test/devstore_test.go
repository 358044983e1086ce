package test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/posthorn/posthorn/internal/config"
	"github.com/posthorn/posthorn/internal/daemon"
	"github.com/posthorn/posthorn/internal/store"
)

// openDevStore opens the store of the stopped dev server of directory
// dir, wherever POSTHORN_TEST_STORE put it: its PostgreSQL database
// (devStoreArgs remembers the DSN) or the embedded store in dir/data.
func openDevStore(t *testing.T, dir string) store.Store {
	t.Helper()
	ctx := context.Background()
	data := filepath.Join(dir, "data")
	var st store.Store
	var err error
	if dsn, ok := devDSNs.Load(dir); ok {
		st, err = daemon.OpenBackend(ctx, config.Store{Backend: config.StorePostgres, DSN: dsn.(string)}, data, nil, nil)
	} else {
		st, err = daemon.OpenStore(ctx, data, nil)
	}
	if err != nil {
		t.Fatalf("opening the dev server's store: %v", err)
	}
	return st
}
