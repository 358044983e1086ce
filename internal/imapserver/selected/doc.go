// Package selected is the IMAP engine's selected state: the view one
// session has of one selected mailbox (message sequence numbers and UIDs,
// flags and MODSEQs as the client was told them, updates pending from
// other sessions and deliveries) and every command that works on it:
// FETCH, STORE, SEARCH, COPY, MOVE, EXPUNGE and CLOSE, with their UID
// forms and the CONDSTORE/QRESYNC parts (RFC 9051, RFC 3501, RFC 7162,
// RFC 4315, RFC 6851, RFC 4731, RFC 5182, RFC 5530, RFC 3516).
//
// Package imapserver owns the connection: it resolves mailbox names,
// calls Open for SELECT/EXAMINE, dispatches the selected-state commands
// to the View, calls Sync after each command and during IDLE, and writes
// the tagged responses.
//
// # Shared state
//
// The sessions of one process that select the same mailbox share one
// in-memory index of it (state.go): UIDs, message ids, MODSEQs, sizes,
// dates and interned flag sets, about 40 octets a message. A View holds
// only its sequence-number map, which shares the index's UID array until
// an expunge the client has not been told about makes it diverge (a
// 100,000-message mailbox costs about 4 MB once, and a few hundred octets
// per further session). The index is fed by store.Watch and re-read
// incrementally (store.Changes, store.MessagesFrom); nothing assumes the
// change came from this process, so a PostgreSQL backend that feeds Watch
// from LISTEN/NOTIFY keeps the sessions of every node in step. An index
// stays cached for two minutes after its last session, so the next
// SELECT is warm.
//
// # Updates
//
// Sync sends what changed since the client last looked, only where RFC
// 9051 §7.5.2 allows it: EXPUNGE (VANISHED under QRESYNC, RFC 7162
// §3.2.10) never after FETCH, STORE or SEARCH; EXISTS before any FETCH of
// a new message; FETCH (UID, FLAGS, MODSEQ under CONDSTORE) for flags
// others changed, never repeating what the session itself was just told.
// Until the client is told of an expunge, the message keeps its number:
// FETCH and STORE leave it out and end OK [EXPUNGEISSUED] (RFC 5530),
// SEARCH leaves it out, COPY and MOVE of nothing but such messages answer
// NO [EXPUNGEISSUED].
//
// \Recent is not kept: IMAP4rev2 dropped it, and for IMAP4rev1 clients
// SELECT reports 0 RECENT and the RECENT and NEW search keys match
// nothing (RFC 3501 lets a server treat every message as not recent when
// it cannot say otherwise; Dovecot with several sessions does much the
// same).
package selected
