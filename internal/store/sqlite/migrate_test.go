package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/posthorn/posthorn/internal/message"
	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/storetest"
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

// TestMigrateFromVersion4 opens a database of schema version 4 with
// messages in it: mailbox sizes and STATUS counters are counted, so
// Usage, quota and MailboxStatus work, and
// the structure of an old body is computed on first read and kept.
func TestMigrateFromVersion4(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v4.db")
	db, err := sql.Open("sqlite", path+"?_foreign_keys=1")
	if err != nil {
		t.Fatal(err)
	}
	body := "Subject: old\r\nContent-Type: text/plain\r\n\r\nstored before version 5\r\n"
	for _, q := range []string{
		migrations[0],
		migrations[1],
		migrations[2],
		migrations[3],
		`CREATE TABLE schema_version (version INTEGER NOT NULL)`,
		`INSERT INTO schema_version (version) VALUES (4)`,
		`INSERT INTO domains (id, name, created) VALUES (1, 'example.org', 0)`,
		`INSERT INTO accounts (id, address, domain_id, created, password_hash) VALUES (1, 'alice@example.org', 1, 0, 'h')`,
		`INSERT INTO mailboxes (id, account_id, name, uidvalidity, uidnext, highestmodseq) VALUES (1, 1, 'INBOX', 7, 3, 3)`,
		`INSERT INTO mailboxes (id, account_id, name, uidvalidity) VALUES (2, 1, 'Archive', 8)`,
		`INSERT INTO blobs (id, data) VALUES (1, '` + body + `')`,
		`INSERT INTO messages (mailbox_id, uid, modseq, internal_date, size, blob_id) VALUES (1, 1, 2, 0, 70, 1), (1, 2, 3, 0, 70, 1)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%.40s: %v", q, err)
		}
	}
	db.Close()

	s := openTest(t, path)
	if u, err := s.Usage(ctx, 1); err != nil || u != 140 {
		t.Errorf("Usage after migration = %d, %v; want 140", u, err)
	}
	if st, err := s.MailboxStatus(ctx, 1); err != nil || st.Messages != 2 || st.Unseen != 2 || st.Deleted != 0 || st.Size != 140 {
		t.Errorf("MailboxStatus after migration = %+v, %v", st, err)
	}
	msgs, err := s.Messages(ctx, 1)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("Messages = %+v, %v", msgs, err)
	}
	var stored []byte
	if err := s.rdb.QueryRow(`SELECT structure FROM blobs WHERE id = 1`).Scan(&stored); err != nil || stored != nil {
		t.Fatalf("old blob's structure = %q, %v; want NULL", stored, err)
	}
	got, err := s.MessageStructure(ctx, msgs[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := message.Structure([]byte(body)); string(got) != string(want) {
		t.Errorf("computed structure differs from message.Marshal(message.Parse(body))")
	}
	if err := s.rdb.QueryRow(`SELECT structure FROM blobs WHERE id = 1`).Scan(&stored); err != nil || string(stored) != string(got) {
		t.Errorf("structure not saved: %q, %v", stored, err)
	}
	if err := s.SetQuota(ctx, "alice@example.org", 150); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, 2, store.AppendOptions{}, make([]byte, 11)); !errors.Is(err, store.ErrOverQuota) {
		t.Errorf("Append beyond a quota over migrated usage: %v", err)
	}
}

// TestMigrateSubmitter opens a database of schema version 8 with a
// tracked message still queued and an older one's events: the queued one
// and its events get its envelope sender (lower case) as Submitter, so
// the sender's address key sees it and its later attempts; the old
// events keep none.
func TestMigrateSubmitter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v8.db")
	db, err := sql.Open("sqlite", path+"?_foreign_keys=1")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range append(slices.Clone(migrations[:8]),
		`CREATE TABLE schema_version (version INTEGER NOT NULL)`,
		`INSERT INTO schema_version (version) VALUES (8)`,
		`INSERT INTO queue (id, account_id, mail_from, utf8, size, queued, next_attempt, body, tracking_id, domain)
			VALUES (1, 0, 'Ann@example.org', 0, 1, 0, 0, 'b', 'm_queued', 'example.org')`,
		`INSERT INTO queue_recipients (queue_id, position, address) VALUES (1, 0, 'x@remote.test')`,
		`INSERT INTO events (id, time, type, domain, message, recipient) VALUES
			('ev_1', 0, 'queued', 'example.org', 'm_queued', 'x@remote.test'),
			('ev_2', 0, 'delivered', 'example.org', 'm_gone', 'y@remote.test')`,
	) {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%.40s: %v", q, err)
		}
	}
	db.Close()

	s := openTest(t, path)
	storetest.CheckSubmitterMigrated(t, s)
}
