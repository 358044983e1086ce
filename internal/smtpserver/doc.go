// Package smtpserver is posthorn's SMTP engine (RFC 5321) on top of
// github.com/emersion/go-smtp. It owns the wire: listeners, connection
// limits, timeouts, replies, error counting, message data and logging.
// Policy (who may send what to whom) lives behind Backend: package mx for
// port 25, submission for 587/465.
//
// Extensions advertised: PIPELINING (RFC 2920), 8BITMIME (RFC 6152),
// SMTPUTF8 (RFC 6531), SIZE (RFC 1870), ENHANCEDSTATUSCODES (RFC 2034,
// RFC 3463), CHUNKING (RFC 3030), STARTTLS (RFC 3207, only with a TLS
// config and not yet in TLS), REQUIRETLS (RFC 8689, inside TLS only; the
// parameter outside TLS gets 530 5.7.10) and LIMITS RCPTMAX (RFC 9422);
// AUTH (RFC 4954)
// only with an Options.Authenticator (submission; the MX role takes no
// logins), with the mechanisms it offers for the connection's TLS state.
//
// # AUTH
//
// With an Authenticator, AUTH runs its SASL exchange: wrong credentials
// are "535 5.7.8", a throttled client or account and internal failures
// "454 4.7.0", a malformed response "501 5.5.2", an unknown mechanism
// "504 5.5.4", and AUTH in plain text while the authenticator offers
// nothing there "530 5.7.0 Must issue a STARTTLS command first" (RFC 3207
// §4). Failed attempts count towards MaxErrors. With RequireAuth, MAIL
// before a successful AUTH is refused with 530 (see Options). The
// credentials never reach a log; the transaction log names the account.
//
// # Limits
//
// Connections over MaxConnections, over MaxConnectionsPerIP from one
// client address or MaxConnectionsPerNet from its /24 (IPv4) or /64
// (IPv6), or over the connection rates per IP and per network (token
// buckets, abuse.go), are answered "421 4.7.0" and closed before go-smtp
// sees them (RFC 5321 §3.8). With ImplicitTLS they are closed without a reply,
// as a plain-text reply would be garbage to a TLS client.
//
// MaxMessageBytes is advertised with SIZE; a larger SIZE= parameter, DATA
// or BDAT total gets "552 5.3.4" (RFC 1870 §6). A recipient past
// MaxRecipients gets "452 4.5.3" (RFC 5321 §4.5.3.1.10).
//
// MaxLineLength caps every line go-smtp reads, command or message text,
// CRLF included; it is at least 1000, the text line limit of RFC 5321
// §4.5.3.1.6, and 2000 by default (go-smtp's default: twice the RFC,
// since real mail exceeds it). go-smtp enforces it on the raw stream: an
// overlong command line is answered "500 5.4.0 Too long line, closing
// connection" and the connection is closed; an overlong line inside DATA
// gets "500 5.5.2 Line too long" for the message, then the same 500 and
// close. The 5.4.0 enhanced code and the close come from go-smtp and
// cannot be changed from outside; the 500 code is RFC 5321 §4.5.3.1.10's.
// BDAT chunks have no line limit.
//
// After MaxErrors failed commands (replies >= 400 from the policy, such as
// the 550s of a directory-harvest attack) the next MAIL, RCPT or DATA is
// answered "421 4.7.0 Too many errors" and the session ends. go-smtp
// separately closes a session after its fourth unknown or malformed
// command ("500 5.5.1 Too many errors").
//
// # Timeouts (RFC 5321 §4.5.3.2)
//
// CommandTimeout (5 min) bounds the wait for each command and each reply
// write. During message data each read from the network gets
// DataBlockTimeout (3 min), and the whole data phase is bounded by
// DataTotalTimeout (10 min): go-smtp alone would apply one deadline to the
// whole DATA, so the raw connection extends the deadline per read. A stall
// is answered 421 and the session closed; bytes that arrive later are never
// read as commands.
//
// # Bare CR and LF (SMTP smuggling)
//
// RFC 5321 §2.3.8 allows CR and LF only together as CRLF. go-smtp ends
// DATA only at CRLF "." CRLF, so a bare-LF "end of data" cannot split a
// message here; but it passes bare CR and LF through. Posthorn rejects a
// message (DATA or BDAT) that contains any with "550 5.6.0" and keeps the
// session open, like Postfix's smtpd_forbid_bare_newline=reject without
// the disconnect. It does not normalise them: rewriting would change bytes
// a DKIM signature covers and would hide smuggling attempts that a later
// hop (a relay, a forwarder) might still act on; legitimate senders use
// CRLF. Reply and enhanced code follow Postfix.
//
// Two bugs in go-smtp v0.25.1's DATA reader limit this (pinned by
// TestGoSMTPDataReaderQuirks): a line starting "." CR followed by
// anything but LF loses both octets, so that bare CR is neither seen nor
// stored; and a CR right before the final CRLF "." CRLF hides the end of
// data, so the session runs into the data timeout. Neither splits a
// message or runs smuggled commands.
//
// # STARTTLS
//
// Commands pipelined behind STARTTLS are never executed (RFC 3207 §4.2,
// CVE-2011-0411): go-smtp discards its read buffer when TLS starts.
//
// # Shutdown
//
// Shutdown stops accepting; idle sessions are woken and answered 421 (the
// wording is go-smtp's idle-timeout reply); a session inside a
// transaction (after MAIL) may finish it, receiving its 250 for DATA, and
// is then closed; a new MAIL while draining gets "421 4.3.2". When the
// context ends, everything still open is closed.
//
// # Logging
//
// One line per transaction (MAIL to the end of DATA, RSET or the
// connection): transaction id (also in the Received header and the 250
// reply), connection id, client IP, TLS version and cipher, sender,
// recipients, size, last reply code and duration. Message content and
// credentials are never logged.
package smtpserver
