// Package pop3server is posthorn's POP3 engine: RFC 1939 (USER, PASS,
// STAT, LIST, RETR, DELE, NOOP, RSET, QUIT, TOP, UIDL) with CAPA and
// response codes (RFC 2449, RFC 3206), STLS (RFC 2595), AUTH (RFC 5034)
// and implicit TLS on port 995 (RFC 8314). It owns the wire, the three
// states, the limits and the maildrop; logins go to an Authenticator (the
// shared authentication service of package auth), mail to the store.
//
// It is our own code, not a library's: there is no established Go POP3
// server package, and the protocol is small (LIBRARIES.md).
//
// # Authentication
//
// USER/PASS and AUTH are refused before TLS with "-ERR [AUTH]" (RFC 2595
// §2.1, RFC 3206), unless Options.AllowPlaintextAuth is set and the client
// address is loopback. CAPA lists USER and SASL only where they may be
// used, and STLS only before TLS; the list is the same in both states
// (RFC 2449 §5). Logins and SASL go to the Authenticator, in production
// the shared auth.Service, whose mechanisms are SCRAM-SHA-256(-PLUS),
// PLAIN and LOGIN (only with TLS unless the service allows plaintext).
// "=" is an empty initial response, "*" cancels, and additional data with
// success is sent as a last "+" challenge answered by an empty line
// (RFC 5034 §4). Failed
// logins get "-ERR [AUTH]"; while the shared throttle holds a client or
// account back, "-ERR [SYS/TEMP]", so that clients retry rather than ask
// the user for a new password. Three failed logins end the session.
//
// APOP (RFC 1939 §7) is deliberately not offered: it needs every password
// stored in clear (or as a reusable MD5 secret) on the server and rests on
// MD5. The greeting carries no APOP timestamp; APOP is answered -ERR.
//
// Commands pipelined behind STLS are discarded, never executed (RFC 2595
// §4, CVE-2011-0411): the TLS handshake starts on a fresh reader.
//
// # Maildrop
//
// The maildrop is the account's INBOX, as it was at login: message
// numbers and sizes stay fixed for the session (RFC 1939 §4). Only one
// POP3 session per maildrop runs at a time: a second login is answered
// "-ERR [IN-USE]" (RFC 2449 §8.1.1), on this node or any other serving
// the same store. The lock is the store's (store.MaildropLocks, keyed by
// account ID): a lease with a random holder token per session, renewed
// every third of Options.MaildropLease while the session lives and given
// back at QUIT or when the session ends any other way, so that the lock
// of a crashed node runs out within one lease (droplock.go). A session
// whose lock is lost (taken over after a stall, or not renewed for so
// long it may have run out, the database being down) is ended with
// "-ERR [SYS/TEMP]" without entering UPDATE, and QUIT renews the lock
// once more before it deletes anything, with the deletions bounded by
// the end of that lease.
//
// DELE only marks; RSET unmarks. At QUIT in the TRANSACTION state the
// session enters UPDATE (RFC 1939 §6): the marked messages, exactly those
// UIDs, get \Deleted and are expunged through the store, so IMAP clients
// see an ordinary expunge and \Deleted flags IMAP set on other messages
// stay. A session that ends any other way (dropped connection,
// autologout, shutdown) deletes nothing. RETR does not set \Seen.
//
// A message expunged by an IMAP client during the session stays listed
// with its size until QUIT (RFC 1939 lets the server keep the snapshot);
// RETR and TOP of it answer -ERR, DELE of it is accepted and has nothing
// left to do at UPDATE.
//
// UIDL values (RFC 1939 §7) are "UIDVALIDITY.ID": the INBOX's
// UIDVALIDITY and the store's message ID, which is never reused. They are
// unique and stable across sessions and restarts; the UIDVALIDITY part
// keeps them from repeating if the store is ever recreated from scratch
// (its message IDs would start again at 1).
//
// Sizes in STAT, LIST and the RETR reply are the exact octets of the
// message in CRLF form as RETR sends it, before dot-stuffing (see
// wire.go). Stored bodies are already CRLF (SMTP refuses bare CR and LF);
// each body is checked once per process when a maildrop is opened, and a
// body with bare line feeds is sent and counted with CRLF line endings.
// RETR writes the stored bytes in large pieces through a buffered writer,
// adding the stuffing dots, without building a copy of the message.
//
// # Limits
//
// Connections over MaxConnections, or over MaxConnectionsPerIP from one
// address, are answered "-ERR [SYS/TEMP]" and closed (with ImplicitTLS
// closed without a reply). At most MaxConnectionsPerAccount sessions may
// name (USER) or log in to one account at a time. IdleTimeout is the
// autologout timer of RFC 1939 §3 (10 minutes by default, the RFC's
// minimum); each reply write gets the same bound. A command line longer
// than MaxLineLength is answered "-ERR Line too long" and the connection
// closed. Ten unknown or malformed commands end the session, as does an
// HTTP request line.
//
// # Shutdown
//
// Shutdown stops accepting; a session waiting for a command is answered
// "-ERR [SYS/TEMP]" and closed without UPDATE; one running a command (a
// RETR being sent, the UPDATE of a QUIT) finishes it first. When the
// context ends, the remaining connections are closed.
//
// # Logging
//
// One line per session: connection id, client IP, TLS version and
// cipher, account, messages retrieved and deleted, duration and how it
// ended. Passwords and message content are never logged.
package pop3server
