package pop3server

import (
	"context"
	"errors"

	"github.com/posthorn/posthorn/internal/auth"
	"github.com/posthorn/posthorn/internal/store"
)

// Authenticator checks logins for the engine: exactly the methods of the
// shared authentication service, *auth.Service (argon2id passwords and
// app passwords, SCRAM-SHA-256, login throttling shared with IMAP and
// submission), which the daemon passes to New.
type Authenticator interface {
	// Login checks a name and password (USER/PASS). It returns
	// auth.ErrFailed for wrong credentials and an *auth.ThrottledError
	// during a lockout; any other error is a temporary failure.
	Login(ctx context.Context, req auth.LoginRequest) (store.Account, error)
	// Mechanisms lists the SASL mechanisms to offer, given whether the
	// connection has TLS.
	Mechanisms(tls bool) []string
	// NewSASL starts a server-side SASL exchange for mech.
	NewSASL(mech string, c auth.SASLConn) (auth.SASL, error)
}

// authReply maps an Authenticator error to a POP3 reply (RFC 3206 codes:
// [AUTH] for a credentials problem, [SYS/TEMP] for throttling and
// anything else, so that a client retries rather than asking for a new
// password).
func authReply(err error) reply {
	var te *auth.ThrottledError
	switch {
	case errors.Is(err, auth.ErrFailed):
		return errReply(codeAuth, "Authentication failed")
	case errors.Is(err, auth.ErrMalformed):
		return errReply(codeNone, "Malformed authentication message")
	case errors.As(err, &te):
		// Not [AUTH]: clients would ask the user for a new password.
		return errReply(codeSysTemp, "Too many failed logins, try again later")
	default:
		return errReply(codeSysTemp, "Authentication temporarily unavailable")
	}
}
