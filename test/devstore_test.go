package test

import (
	"path/filepath"
	"testing"

	"github.com/posthorn/posthorn/internal/store"
)

// openDevStore opens the store of the stopped dev server of directory
// dir, wherever POSTHORN_TEST_STORE put it: its PostgreSQL database
// (devStoreArgs remembers the DSN) or the embedded store in dir/data.
func openDevStore(t *testing.T, dir string) store.Store {
	t.Helper()
	dsn, _ := devDSNs.Load(dir)
	s, _ := dsn.(string)
	return openTestStore(t, s, filepath.Join(dir, "data"))
}
