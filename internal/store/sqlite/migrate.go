package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
)

// migrations are the schema, in order. migrations[i] takes the database
// from version i to version i+1. Never edit a released entry; append a new
// one.
var migrations = []string{
	// 1: initial schema.
	`
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;
-- The UIDVALIDITY counter starts at the creation time, so a database that
-- is deleted and recreated does not hand out values clients have cached.
INSERT INTO meta (key, value) VALUES ('uidvalidity', unixepoch());

CREATE TABLE domains (
	id      INTEGER PRIMARY KEY,
	name    TEXT NOT NULL UNIQUE,
	created INTEGER NOT NULL
);

CREATE TABLE accounts (
	id               INTEGER PRIMARY KEY AUTOINCREMENT,
	address          TEXT NOT NULL UNIQUE,
	domain_id        INTEGER NOT NULL REFERENCES domains (id),
	created          INTEGER NOT NULL,
	password_hash    TEXT NOT NULL DEFAULT '',
	scram_salt       BLOB,
	scram_iterations INTEGER NOT NULL DEFAULT 0,
	scram_stored_key BLOB,
	scram_server_key BLOB
);
CREATE INDEX accounts_domain ON accounts (domain_id);

CREATE TABLE aliases (
	id        INTEGER PRIMARY KEY,
	address   TEXT NOT NULL UNIQUE,
	domain_id INTEGER NOT NULL REFERENCES domains (id),
	created   INTEGER NOT NULL
);
CREATE INDEX aliases_domain ON aliases (domain_id);

-- Targets are account addresses, not foreign keys: an account removed
-- after the alias was made leaves a dangling target that store.Resolve
-- skips.
CREATE TABLE alias_targets (
	alias_id INTEGER NOT NULL REFERENCES aliases (id) ON DELETE CASCADE,
	position INTEGER NOT NULL,
	address  TEXT NOT NULL,
	PRIMARY KEY (alias_id, position)
) WITHOUT ROWID;

CREATE TABLE mailboxes (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	account_id    INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	name          TEXT NOT NULL,
	special_use   TEXT NOT NULL DEFAULT '',
	uidvalidity   INTEGER NOT NULL,
	uidnext       INTEGER NOT NULL DEFAULT 1,
	highestmodseq INTEGER NOT NULL DEFAULT 1,
	subscribed    INTEGER NOT NULL DEFAULT 0,
	UNIQUE (account_id, name)
);

CREATE TABLE blobs (
	id   INTEGER PRIMARY KEY,
	data BLOB NOT NULL
);

CREATE TABLE messages (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	mailbox_id    INTEGER NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
	uid           INTEGER NOT NULL,
	modseq        INTEGER NOT NULL,
	sysflags      INTEGER NOT NULL DEFAULT 0,
	keywords      TEXT NOT NULL DEFAULT '',
	internal_date INTEGER NOT NULL,
	size          INTEGER NOT NULL,
	blob_id       INTEGER NOT NULL REFERENCES blobs (id),
	UNIQUE (mailbox_id, uid)
);
CREATE INDEX messages_blob ON messages (blob_id);

-- A body goes when the last message using it goes (also on cascaded
-- deletes of mailboxes and accounts).
CREATE TRIGGER messages_blob_gc AFTER DELETE ON messages
WHEN NOT EXISTS (SELECT 1 FROM messages WHERE blob_id = OLD.blob_id)
BEGIN
	DELETE FROM blobs WHERE id = OLD.blob_id;
END;

-- The CONDSTORE/QRESYNC change log: the latest flag change or the expunge
-- of each UID, with the MODSEQ it took.
CREATE TABLE changes (
	mailbox_id INTEGER NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
	uid        INTEGER NOT NULL,
	modseq     INTEGER NOT NULL,
	kind       INTEGER NOT NULL,
	flags      TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX changes_modseq ON changes (mailbox_id, modseq);
`,
	// 2: submission: sender rights, app passwords, the outbound queue.
	`
ALTER TABLE accounts ADD COLUMN may_send_as_domain INTEGER NOT NULL DEFAULT 0;

CREATE TABLE app_passwords (
	account_id    INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	name          TEXT NOT NULL,
	created       INTEGER NOT NULL,
	password_hash TEXT NOT NULL,
	PRIMARY KEY (account_id, name)
) WITHOUT ROWID;

-- account_id is no foreign key: queued mail still leaves when the account
-- that sent it is removed.
CREATE TABLE queue (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	account_id   INTEGER NOT NULL,
	mail_from    TEXT NOT NULL,
	utf8         INTEGER NOT NULL,
	size         INTEGER NOT NULL,
	queued       INTEGER NOT NULL,
	next_attempt INTEGER NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	body         BLOB NOT NULL
);
CREATE INDEX queue_next_attempt ON queue (next_attempt);

CREATE TABLE queue_recipients (
	queue_id INTEGER NOT NULL REFERENCES queue (id) ON DELETE CASCADE,
	position INTEGER NOT NULL,
	address  TEXT NOT NULL,
	PRIMARY KEY (queue_id, position)
) WITHOUT ROWID;
`,
	// 3: outbound delivery: per-recipient state, leases, hold, last error.
	// A claimed message's next_attempt is its lease's end, so the one
	// index finds both due messages and expired leases.
	`
ALTER TABLE queue ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
ALTER TABLE queue ADD COLUMN lease INTEGER NOT NULL DEFAULT 0;
ALTER TABLE queue ADD COLUMN last_error TEXT NOT NULL DEFAULT '';
ALTER TABLE queue ADD COLUMN warned INTEGER NOT NULL DEFAULT 0;
DROP INDEX queue_next_attempt;
CREATE INDEX queue_due ON queue (held, next_attempt);
ALTER TABLE queue_recipients ADD COLUMN state INTEGER NOT NULL DEFAULT 0;
ALTER TABLE queue_recipients ADD COLUMN reply TEXT NOT NULL DEFAULT '';
`,
	// 4: REQUIRETLS (RFC 8689) recorded with a queued message.
	`
ALTER TABLE queue ADD COLUMN require_tls INTEGER NOT NULL DEFAULT 0;
`,
	// 5: the store for IMAP: the cached message structure beside each
	// body, account quotas, and a running byte count per mailbox (kept by
	// triggers on messages, so every insert and delete path counts,
	// cascaded deletes included) that quota usage sums.
	`
ALTER TABLE blobs ADD COLUMN structure BLOB; -- message.Marshal; NULL: not computed yet
ALTER TABLE accounts ADD COLUMN quota_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
UPDATE mailboxes SET size = (SELECT coalesce(sum(size), 0) FROM messages WHERE mailbox_id = mailboxes.id);

CREATE TRIGGER messages_size_insert AFTER INSERT ON messages
BEGIN
	UPDATE mailboxes SET size = size + NEW.size WHERE id = NEW.mailbox_id;
END;
CREATE TRIGGER messages_size_delete AFTER DELETE ON messages
BEGIN
	UPDATE mailboxes SET size = size - OLD.size WHERE id = OLD.mailbox_id;
END;
`,
	// 6: STATUS counters per mailbox (messages, unseen, deleted), kept by
	// the same triggers as size, so MailboxStatus reads one row instead of
	// counting every message. Bits: \Deleted 4, \Seen 8 (flags.go).
	`
ALTER TABLE mailboxes ADD COLUMN messages INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN unseen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
UPDATE mailboxes SET
	messages = (SELECT count(*) FROM messages WHERE mailbox_id = mailboxes.id),
	unseen = (SELECT count(*) FROM messages WHERE mailbox_id = mailboxes.id AND sysflags & 8 = 0),
	deleted = (SELECT count(*) FROM messages WHERE mailbox_id = mailboxes.id AND sysflags & 4 != 0);

DROP TRIGGER messages_size_insert;
DROP TRIGGER messages_size_delete;
CREATE TRIGGER messages_count_insert AFTER INSERT ON messages
BEGIN
	UPDATE mailboxes SET size = size + NEW.size, messages = messages + 1,
		unseen = unseen + (NEW.sysflags & 8 = 0), deleted = deleted + (NEW.sysflags & 4 != 0)
	WHERE id = NEW.mailbox_id;
END;
CREATE TRIGGER messages_count_delete AFTER DELETE ON messages
BEGIN
	UPDATE mailboxes SET size = size - OLD.size, messages = messages - 1,
		unseen = unseen - (OLD.sysflags & 8 = 0), deleted = deleted - (OLD.sysflags & 4 != 0)
	WHERE id = OLD.mailbox_id;
END;
CREATE TRIGGER messages_count_flags AFTER UPDATE OF sysflags ON messages
WHEN (OLD.sysflags & 12) != (NEW.sysflags & 12)
BEGIN
	UPDATE mailboxes SET
		unseen = unseen + (NEW.sysflags & 8 = 0) - (OLD.sysflags & 8 = 0),
		deleted = deleted + (NEW.sysflags & 4 != 0) - (OLD.sysflags & 4 != 0)
	WHERE id = NEW.mailbox_id;
END;
`,
	// 7: message tracking for applications: tracking id, sender domain and
	// event data of queued mail; the event log; suppression lists; webhook
	// endpoints and their delivery outbox. Domains are names, not foreign
	// keys: events outlive a removed domain until pruned.
	`
ALTER TABLE queue ADD COLUMN tracking_id TEXT NOT NULL DEFAULT '';
ALTER TABLE queue ADD COLUMN domain TEXT NOT NULL DEFAULT '';
ALTER TABLE queue ADD COLUMN event_data BLOB;
CREATE UNIQUE INDEX queue_tracking ON queue (tracking_id) WHERE tracking_id != '';

CREATE TABLE events (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT,
	id           TEXT NOT NULL UNIQUE,
	time         INTEGER NOT NULL,
	type         TEXT NOT NULL,
	domain       TEXT NOT NULL,
	message      TEXT NOT NULL DEFAULT '',
	recipient    TEXT NOT NULL DEFAULT '',
	reply        TEXT NOT NULL DEFAULT '',
	next_attempt INTEGER NOT NULL DEFAULT 0,
	data         BLOB
);
CREATE INDEX events_domain ON events (domain, seq);
CREATE INDEX events_domain_time ON events (domain, time);
CREATE INDEX events_message ON events (domain, message);
CREATE INDEX events_time ON events (time);

CREATE TABLE suppressions (
	domain   TEXT NOT NULL,
	address  TEXT NOT NULL,
	reason   TEXT NOT NULL,
	created  INTEGER NOT NULL,
	event_id TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (domain, address)
) WITHOUT ROWID;

CREATE TABLE webhook_endpoints (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	domain  TEXT NOT NULL,
	url     TEXT NOT NULL,
	secret  TEXT NOT NULL,
	types   TEXT NOT NULL DEFAULT '', -- comma-separated; '' is every type
	enabled INTEGER NOT NULL DEFAULT 1,
	pattern TEXT NOT NULL DEFAULT '', -- an inbound route's address pattern
	keep    INTEGER NOT NULL DEFAULT 0,
	created INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_domain ON webhook_endpoints (domain);

-- The outbox: one row per (event, endpoint). A claimed delivery's
-- next_attempt is its lease's end, as in the queue.
CREATE TABLE webhook_deliveries (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	endpoint_id  INTEGER NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
	event_seq    INTEGER NOT NULL REFERENCES events (seq),
	state        INTEGER NOT NULL DEFAULT 0,
	attempts     INTEGER NOT NULL DEFAULT 0,
	created      INTEGER NOT NULL,
	next_attempt INTEGER NOT NULL,
	finished     INTEGER NOT NULL DEFAULT 0,
	lease        INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX webhook_due ON webhook_deliveries (next_attempt) WHERE state = 0;
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_seq);
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (finished) WHERE state != 0;
`,
	// 8: HTTP API keys (SHA-256 of the token, found by its public
	// prefix) and the answers kept for Idempotency-Key retries, written in
	// the same commit as the send they answer.
	`
CREATE TABLE api_keys (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	name      TEXT NOT NULL UNIQUE,
	domain_id INTEGER NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
	address   TEXT NOT NULL DEFAULT '',
	prefix    TEXT NOT NULL,
	hash      BLOB NOT NULL,
	created   INTEGER NOT NULL
);
CREATE INDEX api_keys_prefix ON api_keys (prefix);
CREATE INDEX api_keys_domain ON api_keys (domain_id);

CREATE TABLE idempotency (
	key_id       INTEGER NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
	key          TEXT NOT NULL,
	request_hash BLOB NOT NULL,
	status       INTEGER NOT NULL,
	response     BLOB NOT NULL,
	created      INTEGER NOT NULL,
	PRIMARY KEY (key_id, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_created ON idempotency (created);
`,
	// 9: the node holding a queue lease (the daemon's node name), for
	// posthorn queue list/show.
	`ALTER TABLE queue ADD COLUMN lease_holder TEXT NOT NULL DEFAULT '';`,
	// 10: the address a message was submitted as (store.Event.Submitter),
	// on its events and its queue row (for the events of later attempts).
	// Messages still queued get it from their envelope sender; older
	// events keep '' (only the domain's keys see them).
	`
ALTER TABLE queue ADD COLUMN submitter TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN submitter TEXT NOT NULL DEFAULT '';
UPDATE queue SET submitter = lower(mail_from) WHERE tracking_id != '';
UPDATE events SET submitter = (SELECT q.submitter FROM queue q WHERE q.tracking_id = events.message AND q.domain = events.domain)
	WHERE type != 'inbound' AND message IN (SELECT tracking_id FROM queue WHERE tracking_id != '');
`,
}

// migrate brings the schema up to date inside one write transaction, so
// two processes opening a new file at once do not both apply it.
func migrate(ctx context.Context, conn *sql.Conn, log *slog.Logger) (err error) {
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer func() {
		if err != nil {
			conn.ExecContext(context.Background(), "ROLLBACK")
		}
	}()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var version int
	if err := conn.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&version); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("migrate: database schema version %d is newer than this program's %d", version, len(migrations))
	}
	for v := version; v < len(migrations); v++ {
		if _, err := conn.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migrate to version %d: %w", v+1, err)
		}
		if _, err := conn.ExecContext(ctx, `DELETE FROM schema_version`); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if _, err := conn.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, v+1); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		log.Info("database schema migrated", "version", v+1)
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
