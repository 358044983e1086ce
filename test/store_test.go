package test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/posthorn/posthorn/internal/config"
	"github.com/posthorn/posthorn/internal/daemon"
	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/postgres/pgtest"
)

// envTestStore chooses the store of the dev servers the tests start:
// "postgres" runs each dev directory on its own fresh pgtest database
// (test.sh runs the dev-mode tests a second time so); unset or "sqlite",
// the embedded store.
const envTestStore = "POSTHORN_TEST_STORE"

// devDSNs remembers the database of each dev directory, so a test that
// restarts dev mode on the same directory finds its data again.
var devDSNs sync.Map // dir → DSN

// devStoreArgs returns the `posthorn dev` arguments that put dir's store
// where POSTHORN_TEST_STORE says.
func devStoreArgs(t *testing.T, dir string) []string {
	t.Helper()
	if dsn := memoDSN(t, &devDSNs, dir); dsn != "" {
		return []string{"-store-dsn", dsn}
	}
	return nil
}

// memoDSN returns the PostgreSQL database that POSTHORN_TEST_STORE=postgres
// gives key, a fresh pgtest one the first time, remembered in m until the
// test ends; "" for the embedded store (unset or sqlite).
func memoDSN(t *testing.T, m *sync.Map, key string) string {
	t.Helper()
	switch os.Getenv(envTestStore) {
	case "", "sqlite":
		return ""
	case "postgres":
		if dsn, ok := m.Load(key); ok {
			return dsn.(string)
		}
		dsn := pgtest.DSN(t)
		m.Store(key, dsn)
		t.Cleanup(func() { m.Delete(key) })
		return dsn
	}
	t.Fatalf("%s=%q: want sqlite or postgres", envTestStore, os.Getenv(envTestStore))
	return ""
}

// storeTOML returns the [store] table for a `posthorn serve`
// configuration where POSTHORN_TEST_STORE says: "" for the embedded
// store, a fresh pgtest database for postgres. The test's CLI calls must
// then use -config (or $POSTHORN_CONFIG), not -data-dir alone.
func storeTOML(t *testing.T) string {
	t.Helper()
	switch os.Getenv(envTestStore) {
	case "", "sqlite":
		return ""
	case "postgres":
		return fmt.Sprintf("[store]\nbackend = \"postgres\"\ndsn = %q\n", pgtest.DSN(t))
	}
	t.Fatalf("%s=%q: want sqlite or postgres", envTestStore, os.Getenv(envTestStore))
	return ""
}

// dataDSNs remembers the database of each data directory of a `posthorn
// serve` test, so its configuration, its CLI calls and the test's own
// look into the store (openDataStore) reach the same store.
var dataDSNs sync.Map // data dir → DSN

// dataDSN returns the PostgreSQL database of data directory dataDir, ""
// for the embedded store.
func dataDSN(t *testing.T, dataDir string) string {
	t.Helper()
	return memoDSN(t, &dataDSNs, dataDir)
}

// dataStoreTOML returns the [store] table for the `posthorn serve`
// configuration whose data_dir is dataDir: "" for the embedded store.
func dataStoreTOML(t *testing.T, dataDir string) string {
	t.Helper()
	if dsn := dataDSN(t, dataDir); dsn != "" {
		return fmt.Sprintf("[store]\nbackend = \"postgres\"\ndsn = %q\n", dsn)
	}
	return ""
}

// runAt runs the administration command cmd ("apikey create") on the
// store of data directory dataDir, wherever POSTHORN_TEST_STORE put it:
// -data-dir alone for the embedded store, plus -config of a file holding
// just a host name and the [store] table for PostgreSQL.
func runAt(t *testing.T, stdin io.Reader, dataDir, cmd string, args ...string) (string, error) {
	t.Helper()
	argv := append(strings.Fields(cmd), "-data-dir", dataDir)
	if table := dataStoreTOML(t, dataDir); table != "" {
		path := filepath.Join(t.TempDir(), "store.toml")
		if err := os.WriteFile(path, []byte("hostname = \"mail.example.test\"\n"+table), 0o600); err != nil {
			t.Fatal(err)
		}
		argv = append(argv, "-config", path)
	}
	return run(t, stdin, append(argv, args...)...)
}

// openDataStore opens the store of data directory dataDir (its server
// stopped or not yet started), wherever POSTHORN_TEST_STORE put it.
func openDataStore(t *testing.T, dataDir string) store.Store {
	t.Helper()
	return openTestStore(t, dataDSN(t, dataDir), dataDir)
}

// openTestStore opens the PostgreSQL database dsn, or with dsn "" the
// embedded store in dataDir.
func openTestStore(t *testing.T, dsn, dataDir string) store.Store {
	t.Helper()
	sc := config.Store{Backend: config.StoreSQLite}
	if dsn != "" {
		sc = config.Store{Backend: config.StorePostgres, DSN: dsn}
	}
	st, err := daemon.OpenBackend(context.Background(), sc, dataDir, nil, nil)
	if err != nil {
		t.Fatalf("opening the store of %s: %v", dataDir, err)
	}
	return st
}
