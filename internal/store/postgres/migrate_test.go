package postgres

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/posthorn/posthorn/internal/store/postgres/pgtest"
	"github.com/posthorn/posthorn/internal/store/storetest"
)

// TestMigrateSubmitter opens a database of schema version 7 with a
// tracked message still queued and an older one's events: migration 8
// gives the queued one and its events its envelope sender (lower case)
// as Submitter, so the sender's address key sees it; the old events keep
// none (only domain keys see them).
func TestMigrateSubmitter(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range append(append([]string{}, migrations[:7]...),
		`CREATE TABLE schema_version (version integer NOT NULL)`,
		`INSERT INTO schema_version (version) VALUES (7)`,
		`INSERT INTO queue (id, account_id, mail_from, utf8, size, queued, next_attempt, body, tracking_id, domain)
			VALUES (1, 0, 'Ann@example.org', false, 1, 0, 0, 'b', 'm_queued', 'example.org')`,
		`INSERT INTO queue_recipients (queue_id, position, address) VALUES (1, 0, 'x@remote.test')`,
		`INSERT INTO events (id, time, type, domain, message, recipient) VALUES
			('ev_1', 0, 'queued', 'example.org', 'm_queued', 'x@remote.test'),
			('ev_2', 0, 'delivered', 'example.org', 'm_gone', 'y@remote.test')`,
	) {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%.40s: %v", q, err)
		}
	}
	conn.Close(ctx)

	s := openDSN(t, dsn)
	storetest.CheckSubmitterMigrated(t, s)
}
