package smtpserver

import (
	"errors"
	"log/slog"
	"net"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/posthorn/posthorn/internal/auth"
	"github.com/posthorn/posthorn/internal/smtp"
	"github.com/posthorn/posthorn/internal/store"
)

// SMTP AUTH (RFC 4954), enabled by Options.Authenticator.

// Authenticator checks logins; *auth.Service implements it.
type Authenticator interface {
	// Mechanisms lists the SASL mechanisms to advertise, given whether the
	// connection is in TLS. None means no AUTH in the EHLO reply.
	Mechanisms(tls bool) []string
	NewSASL(mech string, c auth.SASLConn) (auth.SASL, error)
}

var _ Authenticator = (*auth.Service)(nil)

// AuthSession is an optional add-on of Session for policies that take
// logins (submission). After a successful AUTH the engine calls
// Authenticated with the account, before any MAIL of the session.
type AuthSession interface {
	Session
	Authenticated(acct store.Account)
}

// Replies of AUTH and of MAIL under RequireAuth.
var (
	// RFC 3207 §4: before STARTTLS, when TLS is required.
	replyMustStartTLS = &smtp.Reply{Code: 530, Enhanced: smtp.EnhancedCode{5, 7, 0}, Text: "Must issue a STARTTLS command first"}
	// RFC 8689 §4.1 with RFC 5248's 5.7.10 "Encryption Needed".
	replyRequireTLSNeedsTLS = &smtp.Reply{Code: 530, Enhanced: smtp.EnhancedCode{5, 7, 10}, Text: "REQUIRETLS needs a TLS session"}
	// RFC 4954 §6.
	replyAuthRequired  = &smtp.Reply{Code: 530, Enhanced: smtp.EnhancedCode{5, 7, 0}, Text: "Authentication required"}
	replyAuthFailed    = &smtp.Reply{Code: 535, Enhanced: smtp.EnhancedCode{5, 7, 8}, Text: "Authentication credentials invalid"}
	replyAuthTemporary = &smtp.Reply{Code: 454, Enhanced: smtp.EnhancedCode{4, 7, 0}, Text: "Temporary authentication failure"}
	replyAuthThrottled = &smtp.Reply{Code: 454, Enhanced: smtp.EnhancedCode{4, 7, 0}, Text: "Too many failed logins, try again later"}
	replyAuthMalformed = &smtp.Reply{Code: 501, Enhanced: smtp.EnhancedCode{5, 5, 2}, Text: "Malformed authentication response"}
	replyAuthMechanism = &smtp.Reply{Code: 504, Enhanced: smtp.EnhancedCode{5, 5, 4}, Text: "Unrecognized authentication type"}
)

// authSession is a session that offers AUTH: go-smtp looks for these two
// methods (its AuthSession add-on).
type authSession struct {
	*session
}

var _ gosmtp.AuthSession = authSession{}

func (s authSession) AuthMechanisms() []string {
	return s.srv.opts.Authenticator.Mechanisms(s.info.TLS != nil)
}

func (s authSession) Auth(mech string) (sasl.Server, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.gate(); err != nil {
		return nil, err
	}
	a := s.srv.opts.Authenticator
	if s.info.TLS == nil && len(a.Mechanisms(false)) == 0 {
		return nil, s.fail(replyMustStartTLS)
	}
	m, err := a.NewSASL(mech, auth.SASLConn{
		Context:  s.srv.ctx,
		RemoteIP: net.IP(s.c.ip.AsSlice()),
		Protocol: "smtp",
		TLS:      s.info.TLS,
	})
	switch {
	case errors.Is(err, auth.ErrEncryptionRequired):
		return nil, s.fail(replyMustStartTLS)
	case errors.Is(err, auth.ErrUnknownMechanism):
		return nil, s.fail(replyAuthMechanism)
	case err != nil:
		s.srv.log.Error("smtp auth", "conn", s.info.ID, "err", err)
		return nil, s.fail(replyAuthTemporary)
	}
	return &saslServer{s: s.session, m: m, mech: mech}, nil
}

// saslServer runs one exchange and reports its outcome to the session.
type saslServer struct {
	s    *session
	m    auth.SASL
	mech string
}

func (a *saslServer) Next(response []byte) ([]byte, bool, error) {
	// Not under mu: a failed login is answered after a delay, and go-smtp
	// may close the session meanwhile.
	challenge, done, err := a.m.Next(response)
	if err == nil && !done {
		return challenge, false, nil
	}
	s := a.s
	s.mu.Lock()
	defer s.mu.Unlock()
	var te *auth.ThrottledError
	switch {
	case errors.As(err, &te):
		return nil, true, s.fail(replyAuthThrottled)
	case errors.Is(err, auth.ErrFailed):
		return nil, true, s.fail(replyAuthFailed)
	case errors.Is(err, auth.ErrMalformed):
		return nil, true, s.fail(replyAuthMalformed)
	case err != nil:
		return nil, true, s.fail(replyAuthTemporary) // already logged by auth
	}
	acct := a.m.Account()
	if s.closed || acct.ID == 0 {
		return nil, true, toGoSMTP(replyAuthTemporary)
	}
	s.user = acct.Address
	if as, ok := s.be.(AuthSession); ok {
		as.Authenticated(acct)
	}
	s.srv.log.LogAttrs(s.srv.ctx, slog.LevelInfo, "smtp login",
		slog.String("conn", s.info.ID),
		slog.String("client", s.c.ip.String()),
		slog.String("user", acct.Address),
		slog.String("mechanism", a.mech),
	)
	return nil, true, nil
}
