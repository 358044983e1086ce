// Package postgres is posthorn's PostgreSQL storage backend, for several
// nodes sharing one database: the same store.Store contract as the
// embedded store/sqlite, checked by the same conformance suite
// (store/storetest), on PostgreSQL 15 or later through pgx.
//
// # Schema
//
// Versioned migrations in migrate.go, applied in one transaction under
// pg_advisory_xact_lock, so nodes starting at once migrate once; the
// version is in schema_version. Tables and columns follow the SQLite
// backend's (times as µs since 1970, system flags as bits, keywords as
// text), so posthorn migrate copies rows as they are.
//
// Mail tables (migration 1): meta (the store-wide UIDVALIDITY counter,
// which never repeats nor runs behind the clock), domains, accounts,
// app_passwords, aliases, alias_targets, mailboxes (UIDNEXT,
// HIGHESTMODSEQ and the STATUS counters size, messages, unseen, deleted,
// so MailboxStatus and Usage read rows, never count messages), messages,
// blobs and changes (the CONDSTORE/QRESYNC log, latest entry per UID).
// Inserts add to the counters in the UPDATE that takes the UIDs;
// statement-level triggers with transition tables keep them on flag
// changes and on deletes, cascaded ones included, and take body
// reference counts down.
//
// Migration 5: maildrop_locks, the POP3 maildrop locks, lease rows in an
// UNLOGGED table (maildrop.go says why).
//
// # Concurrency across nodes
//
// UIDs and MODSEQs are taken with UPDATE mailboxes ... RETURNING inside
// the writing transaction, never max()+1: the row lock orders the writers
// of one mailbox on every node and holds until COMMIT, so UIDs become
// visible in order. Writers lock in one order, accounts (only those with
// a quota, for the quota check) before mailboxes, mailboxes by id; a
// deadlock that bodies shared by copies can still cause is retried
// (40P01, 40001; write in open.go).
//
// # Bodies: bytea in the database
//
// Bodies are bytea in one blobs table, one row per delivery shared by
// every copy (refs counts the messages using it), with the IMAP
// structure beside it, compressed with lz4 when that pays (PostgreSQL's
// TOAST). As in the SQLite backend, a delivery is then one transaction
// and one WAL flush, atomic with its index rows, replicated and backed
// up by PostgreSQL's own tools, with no orphan files to collect and
// nothing for nodes to share but the database. Large objects would add
// a separate lifetime (lo_unlink, no reference counting by the
// database) and round trips per body; an external blob store (a
// filesystem shared by the nodes, or S3) would add a second write and
// fsync outside the transaction and a cleanup of orphans, for a gain
// only when bodies are many gigabytes with large attachments: then
// blob_id is the place to point elsewhere. The price here: bodies are
// read whole into memory, and WAL and base backups carry every body.
// Storing bodies out of line uncompressed (STORAGE EXTERNAL) measured
// 342 deliveries/s against 441/s with lz4 in line (BenchmarkDeliver, 50
// callers, before group commit lost its subtransactions; the benchmark
// body compresses well, real mail less).
//
// For docs/scaling.md: "Message bodies are stored in PostgreSQL as bytea,
// once per delivery and shared by every copy, so a delivery is one
// transaction and one WAL flush, atomic with its index rows, and the
// database's replication and backups cover the bodies too. Large objects
// and an external blob store were rejected: they add a second lifetime
// or a second write outside the transaction, for a gain only with very
// large attachments."
//
// # Group commit
//
// Deliveries to one mailbox commit one after the other (the row lock
// above), so one transaction per delivery caps a mailbox at one
// delivery per commit round: WAL flush plus a round trip per statement,
// each a scheduling delay on a loaded machine. Deliver therefore queues
// to a writer goroutine (deliver.go) that sends up to 64 concurrent
// deliveries as one pgx batch of posthorn_deliver calls, a plpgsql
// function doing a whole delivery inside the server (schema_deliver.go):
// one round trip, one implicit transaction, one WAL flush per batch. A
// refused delivery (quota, unknown account) returns before writing and
// fails alone; the function has no EXCEPTION block, since a
// subtransaction per delivery measured four times slower. A batch
// with events (the MX's "inbound") runs as an explicit transaction, the
// events of the deliveries not refused written in one more statement;
// deliveries with an idempotency record call posthorn_deliver in a
// transaction of their own, not grouped. Other writes are one transaction each (PostgreSQL already
// flushes the WAL of concurrent commits together).
//
// BenchmarkDeliver (10 KB bodies, durable cluster: fsync=on,
// synchronous_commit=on; 2-core VM shared with other jobs, load 7-12),
// against store/sqlite's BenchmarkDeliver run interleaved, two rounds:
//
//	                         sqlite        postgres
//	1 caller                 370, 428/s    300, 287/s (1 per commit)
//	50 callers, 1 mailbox    1914, 2435/s  1108, 1320/s (15-16 per commit)
//	50 callers, 50 accounts  -             1453, 1123/s (13-14 per commit)
//
// so 0.54-0.58 of the embedded store's rate with 50 callers and
// 0.67-0.81 with one. Before group commit (one transaction of six
// statements per delivery) it was 80/s with 1 or 50 callers into one
// mailbox and 161/s over 50 accounts; batching with a subtransaction per
// delivery, 342/s.
//
// # Change notification
//
// Every write transaction calls pg_notify on the channel posthorn_mail
// with "accountID mailboxID" for each mailbox it changed that some node
// watches (notify.go; the registrations in mail_watches, watch.go);
// each Store LISTENs on one dedicated connection and feeds a
// store.Notifier, so Watch on any node sees writes of every node. The
// same connection LISTENs on posthorn_keys and posthorn_endpoints (sent
// by triggers on api_keys and webhook_endpoints), which drop the node's
// caches of API keys and webhook subscriptions (caches.go), on
// posthorn_directory (triggers on domains, accounts, aliases and
// alias_targets, migration 4), which drops the directory cache, and on
// posthorn_outbox, which wakes the webhook worker.
//
// # Directory cache
//
// HasDomain, Account, Alias and Credentials, the reads every RCPT and
// AUTH makes (store.Resolve, the submission checks), are answered from
// memory, not-found answers included (dircache.go). Staleness: a node
// never serves an answer older than a directory write it has itself
// returned from (its writes drop its cache after COMMIT, before they
// return); another node, or a change made by another client (the CLI,
// psql), is seen once its notification arrives, milliseconds after the
// commit. While a node's LISTEN connection is down it caches nothing, and
// its reconnection drops the cache, so a lost notification hides nothing.
// Usage, Accounts, Aliases, Domains and app passwords are always read
// from the database.
//
// # Queue, events, webhooks
//
// Claims of queued messages and webhook deliveries are SELECT ... FOR
// UPDATE SKIP LOCKED with lease tokens from a sequence (queue.go,
// webhook.go); event seqs are ordered against readers by an advisory
// lock so the paging cursor never skips a late commit (events.go).
//
// # Import
//
// Import (import.go) is the target of posthorn migrate: records of
// package storecopy, written with COPY in one transaction into an empty
// database, IDs kept, then the derived columns (STATUS counters, body
// references) and the sequences set from the copied rows.
package postgres
