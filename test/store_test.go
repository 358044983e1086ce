package test

import (
	"fmt"
	"os"
	"sync"
	"testing"

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
	switch os.Getenv(envTestStore) {
	case "", "sqlite":
		return nil
	case "postgres":
		if dsn, ok := devDSNs.Load(dir); ok {
			return []string{"-store-dsn", dsn.(string)}
		}
		dsn := pgtest.DSN(t)
		devDSNs.Store(dir, dsn)
		t.Cleanup(func() { devDSNs.Delete(dir) })
		return []string{"-store-dsn", dsn}
	default:
		t.Fatalf("%s=%q: want sqlite or postgres", envTestStore, os.Getenv(envTestStore))
		return nil
	}
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
