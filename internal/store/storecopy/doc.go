// Package storecopy copies a whole store from one backend to another with
// every identity kept: message IDs, UIDs, UIDVALIDITY, UIDNEXT, MODSEQs,
// flags, the change log, queue, events, webhooks and API keys (`posthorn
// migrate`, from the embedded SQLite store to PostgreSQL).
//
// The store.Store interface cannot do this: it allocates IDs, UIDs and
// MODSEQs itself. So a source backend exports typed records (this
// package's types) to a Sink, from one read transaction (one consistent
// snapshot), bodies one at a time; a target backend implements Sink with
// raw inserts that keep the IDs and then sets its counters past them. Both
// backends import this package, never each other.
//
// Records come in dependency order: Meta, domains, accounts, app
// passwords, aliases, mailboxes, bodies, messages, changes, queue,
// events, suppressions, webhook endpoints, webhook deliveries, API keys,
// idempotency records; within a kind in ID order.
//
// Verify then compares the two stores through the public store.Store
// interface only, so it checks what a client of either backend would see.
package storecopy
