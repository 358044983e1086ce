// Package selected is the IMAP engine's selected state: the view one
// session has of one selected mailbox (message sequence numbers and UIDs,
// flags and MODSEQs as the client was told them, updates pending from other
// sessions and deliveries) and every command that works on it: FETCH,
// STORE, SEARCH, COPY, MOVE, EXPUNGE and CLOSE, with their UID forms and the
// CONDSTORE/QRESYNC parts (RFC 9051, RFC 3501, RFC 7162, RFC 4315, RFC
// 6851, RFC 4731, RFC 5182, RFC 3516).
//
// Package imapserver owns the connection: it resolves mailbox names, calls
// Open for SELECT/EXAMINE, dispatches the selected-state commands to the
// View, calls Sync after each command and during IDLE, and writes the
// tagged responses.
package selected
