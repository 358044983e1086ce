package imapserver

import (
	"context"
	"errors"

	"github.com/posthorn/posthorn/internal/auth"
	"github.com/posthorn/posthorn/internal/imap"
	"github.com/posthorn/posthorn/internal/store"
)

// Authenticator checks logins for the engine: exactly the methods of the
// shared authentication service, *auth.Service (argon2id passwords and
// app passwords, SCRAM-SHA-256(-PLUS), login throttling shared with POP3
// and submission), which the daemon passes to New.
type Authenticator interface {
	// Login checks a name and password (LOGIN). It returns auth.ErrFailed
	// for wrong credentials and an *auth.ThrottledError during a lockout;
	// any other error is a temporary failure.
	Login(ctx context.Context, req auth.LoginRequest) (store.Account, error)
	// Mechanisms lists the SASL mechanisms to offer, given whether the
	// connection has TLS.
	Mechanisms(tls bool) []string
	// NewSASL starts a server-side SASL exchange for mech.
	NewSASL(mech string, c auth.SASLConn) (auth.SASL, error)
}

var _ Authenticator = (*auth.Service)(nil)

// authError maps an Authenticator error to the tagged answer (RFC 5530
// response codes): AUTHENTICATIONFAILED for credentials, UNAVAILABLE for
// throttling and anything else, so that clients retry rather than ask the
// user for a new password; a malformed SASL message is BAD.
func authError(err error) *imap.Error {
	var te *auth.ThrottledError
	switch {
	case errors.Is(err, auth.ErrFailed):
		return &imap.Error{Status: imap.NO, Code: "AUTHENTICATIONFAILED", Text: "Authentication failed"}
	case errors.Is(err, auth.ErrMalformed):
		return &imap.Error{Status: imap.BAD, Text: "Malformed authentication message"}
	case errors.As(err, &te):
		return &imap.Error{Status: imap.NO, Code: "UNAVAILABLE", Text: "Too many failed logins, try again later"}
	default:
		return &imap.Error{Status: imap.NO, Code: "UNAVAILABLE", Text: "Authentication temporarily unavailable"}
	}
}
