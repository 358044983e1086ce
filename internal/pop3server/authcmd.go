package pop3server

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/posthorn/posthorn/internal/auth"
	"github.com/posthorn/posthorn/internal/store"
)

// The AUTHORIZATION state (RFC 1939 §4): CAPA, STLS, USER/PASS, AUTH, QUIT.

func (sess *session) authorizationCommand(cmd command) (reply, bool) {
	switch cmd.name {
	case "CAPA":
		return sess.capa(), true
	case "QUIT":
		// RFC 1939 §4: QUIT here ends the session without UPDATE.
		sess.reason = "quit"
		return reply{ok: true, text: "Bye", close: true}, true
	case "STLS":
		return sess.stls(), true
	case "USER":
		return sess.userCmd(cmd), true
	case "PASS":
		return sess.pass(cmd), true
	case "AUTH":
		return sess.authCmd(cmd), true
	case "APOP":
		// APOP (RFC 1939 §7) needs the password in clear on the server
		// and MD5: not offered (see the package doc).
		return errReply(codeNone, "APOP is not supported; use STLS with USER/PASS or AUTH"), true
	}
	return reply{}, false
}

// errPlaintext refuses credentials on an unprotected connection (RFC 2595
// §2.1, RFC 3206 [AUTH]).
var errPlaintext = errReply(codeAuth, "Plaintext authentication disallowed on non-secure connections; use STLS")

// stls answers STLS (RFC 2595 §4) and starts TLS once the reply is out.
// Anything the client pipelined behind STLS is thrown away unread
// (CVE-2011-0411); what arrives later is read by the TLS handshake.
func (sess *session) stls() reply {
	if !sess.stlsOK() {
		if sess.tls != nil {
			return errReply(codeNone, "Already using TLS")
		}
		return errReply(codeNone, "STLS not available")
	}
	return reply{ok: true, text: "Begin TLS negotiation", then: func() bool {
		if n := sess.r.Buffered(); n > 0 {
			sess.r.Discard(n)
			sess.srv.log.Debug("discarded input pipelined behind STLS", "conn", sess.id, "octets", n)
		}
		if err := sess.startTLS(); err != nil {
			sess.reason = "stls handshake: " + err.Error()
			return false
		}
		sess.user = "" // RFC 2595 §4: start again from a clean state
		return true
	}}
}

func (sess *session) userCmd(cmd command) reply {
	if !sess.plaintextOK() {
		return errPlaintext
	}
	if len(cmd.args) != 1 {
		return errReply(codeNone, "Usage: USER name")
	}
	if !sess.claimAccount(strings.ToLower(cmd.args[0])) {
		return errReply(codeSysTemp, "Too many connections for this account, try again later")
	}
	sess.user = cmd.args[0]
	return okReply("Send PASS")
}

// pass runs PASS. The password is the whole rest of the line: RFC 1939 §7
// allows spaces in it.
func (sess *session) pass(cmd command) reply {
	if !sess.plaintextOK() {
		return errPlaintext
	}
	if sess.user == "" {
		return errReply(codeNone, "Send USER first")
	}
	if cmd.rest == "" {
		return errReply(codeNone, "Usage: PASS password")
	}
	user := sess.user
	sess.user = ""
	acct, err := sess.srv.auth.Login(sess.srv.ctx, auth.LoginRequest{
		Username: user, Password: cmd.rest, RemoteIP: net.IP(sess.ip.AsSlice()), Protocol: "pop3",
	})
	if err != nil {
		return sess.loginFailed(err)
	}
	return sess.loggedIn(acct)
}

// claimAccount moves the session's per-account slot to key.
func (sess *session) claimAccount(key string) bool {
	if key == sess.acctKey {
		return true
	}
	if !sess.srv.conns.ClaimAccount(key) {
		return false
	}
	if sess.acctKey != "" {
		sess.srv.conns.ReleaseAccount(sess.acctKey)
	}
	sess.acctKey = key
	return true
}

// loginFailed answers a failed login and ends the session after
// maxAuthFailures of them.
func (sess *session) loginFailed(err error) reply {
	rep := authReply(err)
	var te *auth.ThrottledError
	if !errors.Is(err, auth.ErrFailed) && !errors.Is(err, auth.ErrMalformed) && !errors.As(err, &te) {
		sess.srv.log.Error("pop3 login", "conn", sess.id, "err", err)
	}
	sess.failures++
	if sess.failures >= maxAuthFailures {
		sess.reason, sess.linger = "too many failed logins", true
		rep.close = true
	}
	return rep
}

// loggedIn locks and opens the maildrop of a client that proved who it
// is, and enters the TRANSACTION state (RFC 1939 §4).
func (sess *session) loggedIn(acct store.Account) reply {
	if !sess.claimAccount(strings.ToLower(acct.Address)) {
		return errReply(codeSysTemp, "Too many connections for this account, try again later")
	}
	lock, err := sess.srv.lockMaildrop(sess.srv.ctx, acct.ID)
	if err != nil {
		sess.srv.log.Error("pop3 locking maildrop", "conn", sess.id, "account", acct.Address, "err", err)
		return errReply(codeSysTemp, "Cannot open the maildrop, try again later")
	}
	if lock == nil {
		return errReply(codeInUse, "Maildrop already in use by another POP3 session")
	}
	d, err := sess.srv.openMaildrop(sess.srv.ctx, acct)
	if err != nil {
		lock.release(sess.srv.ctx, sess.id)
		sess.srv.log.Error("pop3 opening maildrop", "conn", sess.id, "account", acct.Address, "err", err)
		return errReply(codeSysTemp, "Cannot open the maildrop, try again later")
	}
	lock.keep(sess.srv.ctx, sess.id, sess.loseLock)
	sess.drop, sess.lock, sess.state = d, lock, stateTransaction
	// RETR replies are large: a bigger buffer from now on takes several
	// pipelined ones per write instead of three writes each.
	sess.w.Flush()
	sess.w = bufio.NewWriterSize(sess.nc, retrBufferSize)
	n, size := d.stat()
	return okReply(fmt.Sprintf("Logged in, %d messages (%d octets)", n, size))
}

// saslExchange is an AUTH in progress (RFC 5034 §4).
type saslExchange struct {
	sasl auth.SASL
	// succeeded: the mechanism finished and its additional data went out
	// as a challenge; the client must answer with an empty line.
	succeeded bool
}

// authCmd starts AUTH. Without arguments it lists the mechanisms, as
// RFC 1734 did and clients still probe with.
func (sess *session) authCmd(cmd command) reply {
	if len(cmd.args) == 0 {
		return reply{ok: true, text: "Methods supported", multi: true, lines: sess.mechanisms()}
	}
	if !sess.plaintextOK() {
		return errPlaintext
	}
	if len(cmd.args) > 2 {
		return errReply(codeNone, "Usage: AUTH mechanism [initial-response]")
	}
	mech := strings.ToUpper(cmd.args[0])
	if !slices.Contains(sess.mechanisms(), mech) {
		return errReply(codeNone, "Unsupported authentication mechanism")
	}
	ex, err := sess.srv.auth.NewSASL(mech, auth.SASLConn{
		Context: sess.srv.ctx, RemoteIP: net.IP(sess.ip.AsSlice()), Protocol: "pop3", TLS: sess.tls,
	})
	if err != nil {
		sess.srv.log.Error("pop3 starting SASL", "conn", sess.id, "mech", mech, "err", err)
		return errReply(codeSysTemp, "Authentication temporarily unavailable")
	}
	var resp []byte // nil: no initial response
	if len(cmd.args) == 2 {
		// RFC 5034 §4: "=" is an empty initial response.
		if resp, err = decodeResponse(cmd.args[1]); err != nil {
			return errReply(codeNone, "Invalid base64 in initial response")
		}
	}
	sess.sasl = &saslExchange{sasl: ex}
	return sess.saslNext(resp)
}

// saslStep takes one client line during AUTH.
func (sess *session) saslStep(line string) reply {
	ex := sess.sasl
	if line == "*" {
		sess.sasl = nil
		return errReply(codeNone, "Authentication cancelled")
	}
	if ex.succeeded {
		sess.sasl = nil
		if line != "" && line != "=" {
			return sess.loginFailed(auth.ErrFailed)
		}
		return sess.loggedIn(ex.sasl.Account())
	}
	resp, err := decodeResponse(line)
	if err != nil {
		sess.sasl = nil
		return errReply(codeNone, "Invalid base64, authentication cancelled")
	}
	return sess.saslNext(resp)
}

// saslNext feeds a response to the mechanism. Additional data with
// success goes out as a last challenge (RFC 5034 §4 has no other place
// for it).
func (sess *session) saslNext(resp []byte) reply {
	ex := sess.sasl
	chal, done, err := ex.sasl.Next(resp)
	switch {
	case err != nil:
		sess.sasl = nil
		return sess.loginFailed(err)
	case done && len(chal) == 0:
		sess.sasl = nil
		return sess.loggedIn(ex.sasl.Account())
	case done:
		ex.succeeded = true
	}
	return reply{raw: "+ " + auth.EncodeChallenge(chal) + "\r\n"}
}

// mechanisms are the SASL mechanisms this connection may use: the
// Authenticator's for its TLS state, none where credentials are refused.
func (sess *session) mechanisms() []string {
	if !sess.plaintextOK() {
		return nil
	}
	return sess.srv.auth.Mechanisms(sess.tls != nil)
}

// decodeResponse decodes a SASL response line (RFC 5034 §4): base64, "="
// or an empty line for an empty response.
func decodeResponse(line string) ([]byte, error) {
	if line == "" {
		return []byte{}, nil
	}
	return auth.DecodeResponse(line)
}
