package auth

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net"
	"strings"
	"unicode/utf8"

	"github.com/posthorn/posthorn/internal/store"
)

// SASL mechanism names (RFC 4422 §3.1, IANA "SASL Mechanisms").
const (
	MechSCRAMSHA256Plus = "SCRAM-SHA-256-PLUS"
	MechSCRAMSHA256     = "SCRAM-SHA-256"
	MechPlain           = "PLAIN"
	MechLogin           = "LOGIN"
)

// SASL is the server side of one authentication exchange (RFC 4422 §3).
// The protocol layer decodes each client response (base64 in SMTP, IMAP
// and POP3; see DecodeResponse) and passes it to Next; a nil response
// means the client sent no initial response. Next returns the next
// challenge to send, or done. When done with a nil error, Account is the
// logged-in account. Errors are ErrFailed, ErrMalformed, a
// *ThrottledError or a temporary failure (see the error variables).
//
// The exchange never ends with "additional data with success": SCRAM's
// server-final message is sent as a challenge, which the client answers
// with an empty response (RFC 4954 §4 for SMTP, the same in IMAP and
// POP3).
type SASL interface {
	Next(response []byte) (challenge []byte, done bool, err error)
	Account() store.Account
}

// SASLConn describes the connection an exchange runs on.
type SASLConn struct {
	// Context bounds store lookups and the delay after a failure; nil
	// means context.Background.
	Context context.Context
	// RemoteIP is the client's address, for throttling and logs.
	RemoteIP net.IP
	// Protocol is "smtp", "imap" or "pop3", for logs.
	Protocol string
	// TLS is the connection's TLS state, nil in plain text. SCRAM-SHA-256-
	// PLUS binds to it (tls-exporter, RFC 9266).
	TLS *tls.ConnectionState
}

func (c SASLConn) ctx() context.Context {
	if c.Context == nil {
		return context.Background()
	}
	return c.Context
}

// Mechanisms lists the mechanisms to advertise, strongest first: none
// outside TLS unless ServiceOptions.AllowPlaintext (RFC 4954 §4 and RFC
// 8314 §3: no passwords in clear), and the -PLUS variant only over TLS.
func (s *Service) Mechanisms(tls bool) []string {
	if !tls && !s.opts.AllowPlaintext {
		return nil
	}
	var m []string
	if tls {
		m = append(m, MechSCRAMSHA256Plus)
	}
	return append(m, MechSCRAMSHA256, MechPlain, MechLogin)
}

// NewSASL starts an exchange with the named mechanism (case-insensitive).
// It returns ErrUnknownMechanism for one Mechanisms does not list and
// ErrEncryptionRequired outside TLS.
func (s *Service) NewSASL(mech string, c SASLConn) (SASL, error) {
	if c.TLS == nil && !s.opts.AllowPlaintext {
		return nil, ErrEncryptionRequired
	}
	switch strings.ToUpper(mech) {
	case MechPlain:
		return &plainServer{s: s, c: c}, nil
	case MechLogin:
		return &loginServer{s: s, c: c}, nil
	case MechSCRAMSHA256:
		return s.newSCRAM(c, false)
	case MechSCRAMSHA256Plus:
		if c.TLS == nil {
			return nil, ErrUnknownMechanism
		}
		return s.newSCRAM(c, true)
	}
	return nil, ErrUnknownMechanism
}

// errDone is returned by Next after the exchange ended.
var errDone = errors.New("SASL exchange already finished")

// plainServer is PLAIN (RFC 4616).
type plainServer struct {
	s        *Service
	c        SASLConn
	asked    bool // sent the empty challenge for a missing initial response
	finished bool
	acct     store.Account
}

func (p *plainServer) Next(response []byte) ([]byte, bool, error) {
	if p.finished {
		return nil, true, errDone
	}
	if response == nil && !p.asked {
		// RFC 4616 §2: no initial response; ask with an empty challenge.
		p.asked = true
		return []byte{}, false, nil
	}
	p.finished = true
	authz, user, pass, err := ParsePlain(response)
	if err != nil {
		return nil, true, err
	}
	if authz != "" && canonicalUser(authz) != canonicalUser(user) {
		// No proxy authorization (RFC 4616 §2): refuse, as a failure.
		return nil, true, p.s.failed(p.c.ctx(), p.c.Protocol, p.c.RemoteIP, canonicalUser(user), "authorization identity differs")
	}
	acct, err := p.s.Login(p.c.ctx(), LoginRequest{Username: user, Password: pass, RemoteIP: p.c.RemoteIP, Protocol: p.c.Protocol})
	if err != nil {
		return nil, true, err
	}
	p.acct = acct
	return nil, true, nil
}

func (p *plainServer) Account() store.Account { return p.acct }

// ParsePlain splits a PLAIN message (RFC 4616 §2):
//
//	message = [authzid] UTF8NUL authcid UTF8NUL passwd
//
// authcid and passwd must not be empty; all three are UTF-8 without NUL
// and at most 255 octets. Errors are ErrMalformed.
func ParsePlain(msg []byte) (authzid, authcid, passwd string, err error) {
	parts := bytes.Split(msg, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 || len(parts[2]) == 0 {
		return "", "", "", ErrMalformed
	}
	for _, p := range parts {
		if len(p) > 255 || !utf8.Valid(p) {
			return "", "", "", ErrMalformed
		}
	}
	return string(parts[0]), string(parts[1]), string(parts[2]), nil
}

// loginServer is LOGIN (draft-murchison-sasl-login-00): the server asks
// "Username:" then "Password:"; an initial response is the user name.
type loginServer struct {
	s     *Service
	c     SASLConn
	state int // 0 start, 1 asked for the name, 2 asked for the password, 3 done
	user  string
	acct  store.Account
}

// LOGIN's challenges, as clients expect them.
var (
	loginUserChallenge = []byte("Username:")
	loginPassChallenge = []byte("Password:")
)

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch l.state {
	case 0:
		if response == nil {
			l.state = 1
			return loginUserChallenge, false, nil
		}
		fallthrough
	case 1:
		if !loginField(response) {
			l.state = 3
			return nil, true, ErrMalformed
		}
		l.user = string(response)
		l.state = 2
		return loginPassChallenge, false, nil
	case 2:
		l.state = 3
		if !loginField(response) {
			return nil, true, ErrMalformed
		}
		acct, err := l.s.Login(l.c.ctx(), LoginRequest{Username: l.user, Password: string(response), RemoteIP: l.c.RemoteIP, Protocol: l.c.Protocol})
		if err != nil {
			return nil, true, err
		}
		l.acct = acct
		return nil, true, nil
	}
	return nil, true, errDone
}

func (l *loginServer) Account() store.Account { return l.acct }

// loginField accepts a LOGIN user name or password: 1 to 255 octets of
// UTF-8 without NUL.
func loginField(b []byte) bool {
	return len(b) > 0 && len(b) <= 255 && utf8.Valid(b) && bytes.IndexByte(b, 0) < 0
}

// ErrCanceled is DecodeResponse's answer to "*": the client aborted the
// exchange (RFC 4954 §4, RFC 9051 §6.2.2, RFC 5034 §4).
var ErrCanceled = errors.New("SASL exchange canceled by the client")

// DecodeResponse decodes one client response line of SMTP, IMAP or POP3
// SASL: base64 (RFC 4648 §4, padding required), "=" for an empty initial
// response (RFC 4954 §4, RFC 4959), "*" to cancel (ErrCanceled).
// Malformed base64 is ErrMalformed.
func DecodeResponse(line string) ([]byte, error) {
	switch line {
	case "*":
		return nil, ErrCanceled
	case "=":
		return []byte{}, nil
	}
	// The decoder skips CR and LF; a response line holds neither.
	b, err := base64.StdEncoding.Strict().DecodeString(line)
	if err != nil || strings.ContainsAny(line, "\r\n") {
		return nil, ErrMalformed
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

// EncodeChallenge encodes a challenge for the wire (base64; empty for an
// empty challenge).
func EncodeChallenge(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
