package smtpserver

import (
	"context"
	"crypto/tls"
	"net"
)

// Backend is the policy behind a Server: mx for port 25, submission for
// 587/465. The engine calls it once per session.
type Backend interface {
	// NewSession is called when the client has greeted (EHLO/HELO), and
	// again after STARTTLS, when the client greets anew.
	NewSession(ConnInfo) Session
}

// ConnInfo describes the connection a session runs on.
type ConnInfo struct {
	ID         string // connection id, random, for logs
	RemoteAddr net.Addr
	LocalAddr  net.Addr
	// TLS is the state of the TLS connection, nil while in plain text.
	TLS *tls.ConnectionState
	// Helo is the domain or address literal the client greeted with.
	Helo string
}

// Session is one client's conversation. The engine never calls a Session
// concurrently, and calls Close exactly once.
//
// Errors returned by Mail, Rcpt and Data are replies to the client: return
// a *smtp.Reply (package internal/smtp). Any other error is logged and the
// client sees "451 4.3.0 Temporary server error"; Go error text never
// reaches the wire.
type Session interface {
	// Mail starts a transaction (RFC 5321 §4.1.1.2). from is the
	// reverse-path's mailbox with any quoting removed, "" for the null
	// sender <>.
	Mail(ctx context.Context, from string, opts MailOptions) error
	// Rcpt adds a recipient (RFC 5321 §4.1.1.3), quoting removed.
	Rcpt(ctx context.Context, to string) error
	// Data takes the complete message (RFC 5321 §4.1.1.4, RFC 3030 BDAT).
	// A nil return makes the engine answer "250 2.0.0 Ok: queued as ID";
	// the message must be stored durably before returning nil. msg and its
	// bytes are only valid until Data returns.
	Data(ctx context.Context, msg *Message) error
	// Reset aborts the current transaction (RSET, new EHLO, after DATA).
	Reset()
	// Close ends the session.
	Close()
}

// MailOptions are the MAIL FROM parameters the engine accepted.
type MailOptions struct {
	// TxID is the transaction id: in logs, in the Received header, and in
	// the final 250 reply.
	TxID string
	// UTF8 is set by the SMTPUTF8 parameter (RFC 6531 §3.4).
	UTF8 bool
	// Body is the BODY parameter ("7BIT", "8BITMIME"), or "".
	Body string
	// Size is the SIZE parameter (RFC 1870), 0 when not given.
	Size int64
	// RequireTLS is set by the REQUIRETLS parameter (RFC 8689 §4.1),
	// accepted only over TLS: the message must travel on over verified
	// TLS only.
	RequireTLS bool
}

// Message is a received message as the engine hands it to Data.
type Message struct {
	// TxID is the transaction id, as in MailOptions.
	TxID string
	// Helo is the client's greeting when the transaction began (it may
	// differ from ConnInfo.Helo after a second EHLO).
	Helo string
	// Chunked is true when the message came with BDAT (RFC 3030).
	Chunked bool

	buf []byte // headroom, then the body
	off int    // start of the body in buf
}

// Body returns the message exactly as received: CRLF line endings,
// dot-unstuffed, no bare CR or LF.
func (m *Message) Body() []byte { return m.buf[m.off:] }

// Size is the length of the body.
func (m *Message) Size() int { return len(m.buf) - m.off }

// WithTrace returns trace followed by the body. The engine reserves space
// in front of the body for trace headers (RFC 5321 §4.4), so this usually
// copies only trace. The result aliases the message buffer: it is only
// valid until Data returns, and calling WithTrace again overwrites it.
func (m *Message) WithTrace(trace []byte) []byte {
	if len(trace) <= m.off {
		start := m.off - len(trace)
		copy(m.buf[start:], trace)
		return m.buf[start:]
	}
	out := make([]byte, 0, len(trace)+m.Size())
	out = append(out, trace...)
	return append(out, m.Body()...)
}
