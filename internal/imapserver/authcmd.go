package imapserver

import (
	"errors"
	"net"
	"slices"
	"time"

	"github.com/posthorn/posthorn/internal/auth"
	"github.com/posthorn/posthorn/internal/imap"
	"github.com/posthorn/posthorn/internal/store"
)

// The not-authenticated state (RFC 9051 §6.2): STARTTLS, LOGIN,
// AUTHENTICATE.

// errPlaintext refuses credentials on an unprotected connection (RFC
// 9051 §6.2.3, RFC 5530 PRIVACYREQUIRED).
var errPlaintext = no("PRIVACYREQUIRED", "Plaintext authentication disallowed without TLS; use STARTTLS")

// starttls answers STARTTLS (RFC 9051 §6.2.1) and starts TLS once the
// answer is out. Anything the client pipelined behind it is thrown away
// unread (CVE-2011-0411); what arrives later is read by the handshake.
func (sess *session) starttls() response {
	if sess.tls != nil || sess.srv.opts.TLSConfig == nil {
		return bad("STARTTLS not available")
	}
	res := ok("Begin TLS negotiation now")
	res.then = func() bool {
		if n := sess.bufferedLen(); n > 0 {
			sess.br.Discard(n)
			sess.srv.log.Debug("discarded input pipelined behind STARTTLS", "conn", sess.id, "octets", n)
		}
		if err := sess.startTLS(); err != nil {
			sess.reason = "starttls handshake: " + err.Error()
			return false
		}
		return true
	}
	return res
}

// login is LOGIN (RFC 9051 §6.2.3).
func (sess *session) login(a *imap.LoginArgs) response {
	if !sess.plaintextOK() {
		return errPlaintext
	}
	acct, err := sess.srv.auth.Login(sess.srv.ctx, auth.LoginRequest{
		Username: a.Username, Password: a.Password, RemoteIP: net.IP(sess.ip.AsSlice()), Protocol: "imap",
	})
	if err != nil {
		return sess.loginFailed(err)
	}
	return sess.loggedIn(acct)
}

// authenticate runs AUTHENTICATE (RFC 9051 §6.2.2) with SASL-IR (RFC
// 4959). Challenges go out as "+ base64"; the client answers each with a
// line, "*" to cancel. SCRAM's server-final message is a last challenge
// answered by an empty line (the auth package never ends with additional
// data).
func (sess *session) authenticate(a *imap.AuthenticateArgs) response {
	if !sess.plaintextOK() {
		return errPlaintext
	}
	if !slices.Contains(sess.mechanisms(), a.Mechanism) {
		return no("CANNOT", "Unsupported authentication mechanism")
	}
	ex, err := sess.srv.auth.NewSASL(a.Mechanism, auth.SASLConn{
		Context: sess.srv.ctx, RemoteIP: net.IP(sess.ip.AsSlice()), Protocol: "imap", TLS: sess.tlsState(),
	})
	if err != nil {
		return sess.internalError("starting SASL", err)
	}
	var resp []byte // nil: no initial response
	if a.HasInitialResponse {
		if resp, err = auth.DecodeResponse(a.InitialResponse); err != nil {
			return bad("Invalid base64 in initial response")
		}
	}
	for {
		chal, done, err := ex.Next(resp)
		if err != nil {
			return sess.loginFailed(err)
		}
		if done && len(chal) == 0 {
			return sess.loggedIn(ex.Account())
		}
		w := sess.out()
		w.Atom("+ " + auth.EncodeChallenge(chal) + "\r\n")
		if err := sess.flush(); err != nil {
			sess.reason = "write: " + err.Error()
			return response{quiet: true}
		}
		sess.setReadDeadline(time.Now().Add(sess.srv.idleTimeout))
		line, err := sess.r.ReadLine()
		if err != nil {
			if pe := imap.AsError(err); pe != nil {
				sess.reason, sess.linger = "sasl response too long", true
				return response{status: imap.BAD, code: pe.Code, text: pe.Text, bye: "Closing", close: true}
			}
			sess.reason = "client closed during AUTHENTICATE"
			return response{quiet: true}
		}
		if line == "*" {
			return bad("AUTHENTICATE cancelled")
		}
		if done {
			if line != "" {
				return sess.loginFailed(auth.ErrFailed)
			}
			return sess.loggedIn(ex.Account())
		}
		if resp, err = auth.DecodeResponse(line); err != nil {
			return bad("Invalid base64 in SASL response, AUTHENTICATE cancelled")
		}
	}
}

// loginFailed answers a failed login and ends the session after
// maxAuthFailures of them.
func (sess *session) loginFailed(err error) response {
	pe := authError(err)
	var te *auth.ThrottledError
	if !errors.Is(err, auth.ErrFailed) && !errors.Is(err, auth.ErrMalformed) && !errors.As(err, &te) {
		sess.srv.log.Error("imap login", "conn", sess.id, "err", err)
	}
	res := fromError(pe)
	sess.failures++
	if sess.failures >= maxAuthFailures {
		sess.reason, sess.linger = "too many failed logins", true
		res.close, res.bye = true, "Too many failed logins"
	}
	return res
}

// loggedIn enters the authenticated state (RFC 9051 §3.2) for a client
// that proved who it is, within the per-account connection limit.
func (sess *session) loggedIn(acct store.Account) response {
	if !sess.srv.conns.ClaimAccount(acct.ID) {
		return no("LIMIT", "Too many connections for this account, try again later")
	}
	sess.acct, sess.state = acct, stateAuth
	sess.r.SetOptions(sess.readerOptions())
	return okCode("CAPABILITY "+sess.capabilities(), "Logged in")
}
