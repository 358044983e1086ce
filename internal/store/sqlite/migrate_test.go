package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

// TestMigrateFromVersion1 opens a database written by schema version 1
// (before submission) with an account in it: the account keeps working,
// may not send as its domain, and gets app passwords and the queue.
func TestMigrateFromVersion1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v1.db")
	db, err := sql.Open("sqlite", path+"?_foreign_keys=1")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		migrations[0],
		`CREATE TABLE schema_version (version INTEGER NOT NULL)`,
		`INSERT INTO schema_version (version) VALUES (1)`,
		`INSERT INTO domains (id, name, created) VALUES (1, 'example.org', 0)`,
		`INSERT INTO accounts (address, domain_id, created, password_hash) VALUES ('alice@example.org', 1, 0, 'h')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%.40s: %v", q, err)
		}
	}
	db.Close()

	s := openTest(t, path)
	a, cred, err := s.Credentials(ctx, "alice@example.org")
	if err != nil || a.MaySendAsDomain || cred.PasswordHash != "h" {
		t.Fatalf("migrated account = %+v, %+v, %v", a, cred, err)
	}
	var v int
	if err := s.rdb.QueryRow(`SELECT version FROM schema_version`).Scan(&v); err != nil || v != len(migrations) {
		t.Errorf("schema_version = %d, %v; want %d", v, err, len(migrations))
	}
	if err := s.SetMaySendAsDomain(ctx, "alice@example.org", true); err != nil {
		t.Error(err)
	}
	if _, err := s.AddAppPassword(ctx, "alice@example.org", "phone", cred); err != nil {
		t.Error(err)
	}
	if ms, err := s.QueuedMessages(ctx, 0); err != nil || len(ms) != 0 {
		t.Errorf("QueuedMessages after migration = %v, %v", ms, err)
	}
}
