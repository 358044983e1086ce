package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/postgres/pgtest"
	"github.com/posthorn/posthorn/internal/store/storetest"
)

// openDSN opens a Store on dsn, closed at the end of the test.
func openDSN(t testing.TB, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// migratedDSN is pgtest.DSN with this package's schema in place, copied
// from a template database migrated once per schema.
func migratedDSN(t testing.TB) string {
	t.Helper()
	sum := sha256.Sum256([]byte(strings.Join(migrations, "\x00")))
	return pgtest.DSNFrom(t, "store/postgres schema "+hex.EncodeToString(sum[:]), func(dsn string) error {
		s, err := Open(context.Background(), dsn, Options{})
		if err != nil {
			return err
		}
		return s.Close()
	})
}

// TestConformance runs the store conformance suite, each test on its own
// database.
func TestConformance(t *testing.T) {
	dsns := map[store.Store]string{}
	open := func(t *testing.T) store.Store {
		dsn := migratedDSN(t)
		s := openDSN(t, dsn)
		dsns[s] = dsn
		return s
	}
	storetest.RunWithOptions(t, open, storetest.Options{
		Reopen: func(t *testing.T, s store.Store) store.Store {
			dsn := dsns[s]
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			s2 := openDSN(t, dsn)
			dsns[s2] = dsn
			return s2
		},
	})
}

// TestMigrateTwice: a second Open (another node) finds the schema up to
// date, and two nodes opening a new database at once migrate it once.
func TestMigrateTwice(t *testing.T) {
	dsn := pgtest.DSN(t)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			s, err := Open(context.Background(), dsn, Options{})
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent Open: %v", err)
		}
	}
	s := openDSN(t, dsn)
	var v int
	if err := s.pool.QueryRow(context.Background(), `SELECT version FROM schema_version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != len(migrations) {
		t.Errorf("schema version %d, want %d", v, len(migrations))
	}
}
