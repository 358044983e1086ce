// Package auth checks credentials for every protocol (SMTP submission,
// IMAP, POP3, HTTP). One Service per process serves them all, so that its
// throttle sees every protocol's failures.
//
// # Passwords
//
// An account's password is stored as an argon2id hash (RFC 9106, OWASP
// parameters, see password.go) for PLAIN and LOGIN, plus SCRAM-SHA-256
// keys (RFC 5802 §3, RFC 7677) computed from the SASLprep'd password
// (RFC 4013), since SCRAM cannot be derived from the argon2 hash. App
// passwords are extra, named, revocable passwords of an account, generated
// by posthorn and stored as argon2id hashes only: Login accepts the
// account password or any app password; SCRAM, whose username names no
// app password, takes the account password only.
//
// # SASL (RFC 4422)
//
// Mechanisms, offered only over TLS unless ServiceOptions.AllowPlaintext:
//
//   - SCRAM-SHA-256-PLUS (RFC 7677, RFC 5802) with tls-exporter channel
//     binding (RFC 9266): the password never crosses the wire and the login
//     is tied to this TLS connection, so a man in the middle with a
//     mis-issued certificate cannot relay it.
//   - SCRAM-SHA-256: as above without channel binding. A client that says
//     it could bind ("y" flag) while the server offers -PLUS is refused
//     (RFC 5802 §6, downgrade protection).
//   - PLAIN (RFC 4616): authzid NUL authcid NUL password. An authorization
//     identity other than the login is refused: no proxy logins.
//   - LOGIN (draft-murchison-sasl-login-00): "Username:", "Password:"
//     challenges; still needed by some clients (Outlook, older phones).
//
// The SCRAM server is github.com/xdg-go/scram behind the small SASL
// interface here. For names that do not exist, SCRAM answers with a salt
// derived from the name and a secret, so it does not tell which accounts
// exist; PLAIN and LOGIN check a dummy hash, so they take the same time.
//
// # Throttling
//
// See ThrottleOptions: per client IP and per login name, failures are
// answered after a doubling delay, and after too many within the window
// the IP or name is locked out for the window, the right password
// included. The counts are per process, or in a FailureStore every node
// shares (ThrottleOptions.Shared; the PostgreSQL store). Logs name the user, the client IP, the protocol and the
// reason, never a password or SASL payload.
//
// # Login cache
//
// With ServiceOptions.LoginCacheTTL, a successful password check is
// remembered for a while (see loginCache for what is kept and what it
// costs), so repeated logins skip argon2id; a changed password or a
// revoked app password is never served from it.
package auth
