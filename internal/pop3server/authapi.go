package pop3server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// Authenticator checks logins for the engine. The shared authentication
// service of package auth (argon2id passwords, SCRAM-SHA-256, login
// throttling shared with IMAP and submission) implements it.
//
// The types below mirror that service's API; they become aliases of the
// auth types once the service is in the tree.
type Authenticator interface {
	// Login checks a username and password (USER/PASS, AUTH PLAIN). It
	// returns ErrAuthFailed for wrong credentials and a *ThrottledError
	// while the client or account is throttled; any other error is a
	// temporary failure.
	Login(ctx context.Context, req LoginRequest) (store.Account, error)
	// Mechanisms lists the SASL mechanisms to offer, given whether the
	// connection is protected (TLS, or plaintext allowed on loopback).
	Mechanisms(tls bool) []string
	// NewSASL starts a server-side SASL exchange for mech.
	NewSASL(mech string, c SASLConn) (SASL, error)
}

// LoginRequest is one login attempt.
type LoginRequest struct {
	Username, Password string
	RemoteIP           net.IP
	Protocol           string // "pop3"
}

// SASLConn describes the connection a SASL exchange runs on.
type SASLConn struct {
	Context  context.Context
	RemoteIP net.IP
	Protocol string
	TLS      *tls.ConnectionState // nil in plain text
}

// SASL is one server-side SASL exchange (RFC 4422).
type SASL interface {
	// Next takes the client's response (nil when the client sent no
	// initial response) and returns the next challenge, or done when the
	// exchange succeeded. Errors are as for Authenticator.Login.
	Next(resp []byte) (challenge []byte, done bool, err error)
	// Account is the authenticated account once Next reported done.
	Account() store.Account
}

// Errors of Login and SASL exchanges.
var (
	// ErrAuthFailed means the credentials are wrong (or the account does
	// not exist: the two are not told apart).
	ErrAuthFailed = errors.New("authentication failed")
	// ErrMalformed means a SASL response does not parse.
	ErrMalformed = errors.New("malformed SASL message")
)

// ThrottledError means logins are refused for a while after too many
// failures.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed logins; retry after %v", e.RetryAfter)
}

// authReply maps an Authenticator error to a POP3 reply (RFC 3206 codes:
// [AUTH] for a credentials problem, [SYS/TEMP] for throttling and
// anything else, so that a client retries rather than asking for a new
// password).
func authReply(err error) reply {
	var te *ThrottledError
	switch {
	case errors.Is(err, ErrAuthFailed):
		return errReply(codeAuth, "Authentication failed")
	case errors.Is(err, ErrMalformed):
		return errReply(codeNone, "Malformed authentication message")
	case errors.As(err, &te):
		// Not [AUTH]: clients would ask the user for a new password.
		return errReply(codeSysTemp, "Too many failed logins, try again later")
	default:
		return errReply(codeSysTemp, "Authentication temporarily unavailable")
	}
}
