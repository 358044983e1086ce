// Package sqlite is posthorn's embedded storage backend: one SQLite file
// holds the directory, the mailboxes, the message bodies and the
// CONDSTORE/QRESYNC change log. It uses modernc.org/sqlite, a pure Go
// SQLite, so the binary builds with CGO_ENABLED=0.
//
// # On-disk layout
//
// One database file plus SQLite's -wal and -shm files beside it. The file
// is in WAL mode with synchronous=FULL (a commit is fsync'd before it is
// reported), foreign keys on, and a 10 s busy timeout so a CLI process can
// write beside a running server. Tables (see migrate.go for the exact
// schema, applied as ordered, versioned migrations recorded in
// schema_version):
//
//	meta           key/value counters; "uidvalidity" is the store-wide
//	               UIDVALIDITY counter (starts at the creation time, never
//	               repeats, never runs behind the clock)
//	domains        mail domains served here
//	accounts       address (unique), domain, argon2id hash, SCRAM keys
//	aliases        address or "@domain" (catch-all), domain
//	alias_targets  ordered account addresses of an alias (not foreign keys)
//	mailboxes      account, name (unique per account), special use,
//	               UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, subscribed
//	messages       id (AUTOINCREMENT: never reused), mailbox, UID (unique
//	               per mailbox), MODSEQ, system flags as bits, keywords,
//	               internal date (µs), size, body blob
//	blobs          message bodies; one row shared by every message made
//	               from one delivery or copy, deleted by a trigger when its
//	               last message goes
//	changes        per mailbox and UID, the latest flag change or the
//	               expunge with its MODSEQ
//
// # Bodies in the database
//
// Bodies are BLOBs in the same file, not one file per message as in mox or
// maddy. With bodies inside, a delivery is one transaction and one fsync,
// atomic with its index rows, and there is no orphan-file cleanup. Measured
// on the reference machine (LIBRARIES.md, 10 KiB message + 3 index rows):
// modernc.org/sqlite stores ~4,900 messages/s with one durable commit per
// message and ~8,700/s with 32 per commit, while one file per body plus
// SQLite metadata manages ~1,500/s and ~3,200/s (three fsyncs per
// message). The price is a larger database file (backups copy it whole,
// or use SQLite's online backup) and bodies read whole into memory; a
// message store of many gigabytes with large attachments would favour
// files or segment files. The PostgreSQL backend makes its own choice.
//
// # Group commit
//
// All writes run on one goroutine that owns the only write connection
// (see writer.go): concurrent requests are batched into one transaction,
// each in its own SAVEPOINT, and committed with one fsync. Reads use a
// separate pool of connections, which WAL lets run beside the writer.
package sqlite
