// Package imapserver is posthorn's IMAP engine (RFC 9051 IMAP4rev2 and RFC
// 3501 IMAP4rev1): listeners with STARTTLS (143) or implicit TLS (993,
// RFC 8314), connection limits, the session states, logins, the mailbox
// commands, APPEND, QUOTA, IDLE and the routing of selected-state commands
// to package selected, which owns everything about one selected mailbox.
// The wire codec is package imap. It is our own code: go-imap's server
// lacks CONDSTORE/QRESYNC, QUOTA and a Shutdown (LIBRARIES.md).
//
// # Versions
//
// A client gets IMAP4rev1 behaviour until it sends ENABLE IMAP4rev2
// (RFC 9051 §6.3.1): mailbox names in modified UTF-7 (RFC 3501 §5.1.3),
// STATUS RECENT answered 0, LSUB. After ENABLE IMAP4rev2 or UTF8=ACCEPT
// (RFC 6855) names and quoted strings are UTF-8.
//
// # Capabilities
//
// Only what works is listed (capability.go; TestAdvertisedExtensions runs
// a command of each selected-state extension). MULTIAPPEND is not
// offered: the store appends one message at a time and RFC 3502 wants all
// or nothing. A command that turns CONDSTORE on implicitly while a
// mailbox is selected is followed by its HIGHESTMODSEQ (RFC 7162 §3.1).
//
// # Authentication
//
// Before TLS the capabilities list STARTTLS and LOGINDISABLED and no
// AUTH=; LOGIN and AUTHENTICATE are answered NO [PRIVACYREQUIRED], unless
// Options.AllowPlaintextAuth is set and the client is on loopback.
// Commands pipelined behind STARTTLS are discarded (CVE-2011-0411).
// Logins go to the Authenticator (auth.Service: passwords and app
// passwords, SCRAM-SHA-256(-PLUS), PLAIN, LOGIN, throttling shared with
// SMTP and POP3). Failures are NO [AUTHENTICATIONFAILED]; throttling and
// internal errors NO [UNAVAILABLE] (RFC 5530); three failures end the
// session. Passwords are never logged.
//
// # Mailbox names
//
// See names.go. "/" is the delimiter, INBOX is case-insensitive, names
// are NFC normalised, and every store call is scoped to the logged-in
// account. The store has no \Noselect mailboxes: CREATE makes missing
// parents as real mailboxes; DELETE of a mailbox with children removes
// it and leaves them, and LIST shows the name as "\Noselect \HasChildren"
// ("\NonExistent" with LIST-EXTENDED syntax, RFC 5258 §3.4)
// until it is created again (with a new UIDVALIDITY). RENAME INBOX moves
// its messages into the new mailbox and leaves INBOX empty. A subscription
// belongs to its mailbox: names that do not exist cannot be subscribed.
//
// # Limits
//
// Connections over MaxConnections, or MaxConnectionsPerIP from one
// address, get "* BYE [UNAVAILABLE]" and are closed; logins beyond
// MaxConnectionsPerAccount get NO [LIMIT]. A command line longer than
// MaxLineLength is answered BAD [TOOBIG] and the connection closed; an
// APPEND literal over MaxMessageSize (APPENDLIMIT, RFC 7889) NO [TOOBIG]
// before its "+", other literals over 64 KiB BAD [TOOBIG]. The autologout
// timer (RFC 9051 §5.4, 30 minutes minimum) runs while waiting for a
// command and through IDLE. After MaxErrors BAD answers the session ends
// with BYE.
//
// # Selected state
//
// SELECT and EXAMINE open a selected.View, which answers the commands of
// the selected state; the session calls View.Sync before every tagged
// answer (no EXPUNGE after FETCH, STORE or SEARCH, RFC 9051 §7.5.1) and,
// during IDLE, from a short-lived goroutine started by the View's Notify
// callback (idle.go). A selected mailbox that
// another session deletes ends the session with BYE, as in Dovecot: there
// is nothing left to work on.
//
// # Memory
//
// A session that waits for the client (for a command, or for DONE in
// IDLE) holds one goroutine started for the wait, whose stack stays at 2
// KiB, the connection and its TLS state, and no buffers: the goroutine
// that ran the command ends, and the read (2 KiB) and write (32 KiB)
// buffers go back to their pools (session.loop, session.fill). Over TLS
// the wait parks on the socket once a non-blocking read found nothing in
// crypto/tls (pollTLS). BenchmarkIdleConnectionMemory (1,000 connections
// logged in, INBOX selected, in IDLE) measured per connection about 4 KiB
// of heap and stacks and 7 KiB of RSS in plain text, 7.5 KiB and 10 KiB
// with TLS (after a collection; the daemon's RSS adds the heap's growth
// headroom: docs/BENCHMARKS.md).
//
// # Shutdown
//
// Shutdown stops accepting; a session waiting for a command or in IDLE
// gets "* BYE" at once, one running a command finishes it first. When the
// context ends, the remaining connections are closed.
package imapserver
