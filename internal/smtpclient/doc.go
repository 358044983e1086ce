// Package smtpclient is posthorn's outbound SMTP client (RFC 5321): one
// connection to one mail server, set up by Dial (greeting, EHLO with our
// host name, STARTTLS, AUTH) and then used for any number of transactions
// with Send, each returning one reply per recipient.
//
// Extensions: PIPELINING (RFC 2920: MAIL, every RCPT and DATA go out in
// one write), SIZE (RFC 1870: a message over the server's declared limit
// fails at once with 552 5.3.4, unsent), 8BITMIME (RFC 6152: BODY=8BITMIME
// for 8-bit messages; to a server without it an 8-bit message fails with
// 554 5.6.3 rather than being downgraded, which would break its DKIM
// signatures), SMTPUTF8 (RFC 6531: a message that needs it fails
// with 550 5.6.7 when the server lacks it, as §3.2 asks), STARTTLS (RFC
// 3207) and AUTH (RFC 4954) with any go-sasl client mechanism.
//
// Why not go-smtp's Client (LIBRARIES.md): it cannot pipeline (every
// command waits for its reply, so a message to 10 recipients costs 12
// round trips instead of 2), takes no context, and hides the connection, so
// a pipelined transaction cannot be layered on top of it. The wire part
// here is small: a reply reader (multi-line replies, RFC 3463 enhanced
// codes), a dot-stuffing writer, and the command sequence. SASL
// mechanisms come from go-sasl.
//
// Every wait is bounded: each command by Options.CommandTimeout, the reply
// to the end of data by Options.DataTimeout, and everything by the
// caller's context (cancelling it interrupts a pending read or write).
// Errors that leave the connection unusable (I/O errors, timeouts, a 421
// reply, a malformed reply) come back as *Error; replies to a transaction
// come back per recipient in Result.
package smtpclient
