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
// # Change notification
//
// Every write transaction calls pg_notify on the channel posthorn_mail
// with "accountID mailboxID" for each mailbox it changed (notify.go);
// each Store LISTENs on one dedicated connection and feeds a
// store.Notifier, so Watch on any node sees writes of every node. The
// same connection LISTENs on posthorn_keys and posthorn_endpoints (sent
// by triggers on api_keys and webhook_endpoints), which drop the node's
// caches of API keys and webhook subscriptions (caches.go), and on
// posthorn_outbox, which wakes the webhook worker.
//
// # Queue, events, webhooks
//
// Claims of queued messages and webhook deliveries are SELECT ... FOR
// UPDATE SKIP LOCKED with lease tokens from a sequence (queue.go,
// webhook.go); event seqs are ordered against readers by an advisory
// lock so the paging cursor never skips a late commit (events.go).
package postgres
