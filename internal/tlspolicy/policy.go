package tlspolicy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/smtp"
)

// Options configure a Policy.
type Options struct {
	// Resolver answers the TXT (_mta-sts), address (mta-sts.DOMAIN) and
	// TLSA lookups. Nil: no policy is ever found (opportunistic TLS
	// everywhere, REQUIRETLS still enforced).
	Resolver dns.Resolver
	// CacheDir keeps fetched MTA-STS policies across restarts, one file
	// per domain (RFC 8461 §5.1 wants them cached for max_age). "": in
	// memory only.
	CacheDir string
	// RootCAs verify the policy host mta-sts.DOMAIN and, under MTA-STS or
	// REQUIRETLS, the MX hosts' certificates. Nil: the system's roots.
	RootCAs *x509.CertPool
	// Dial opens the TCP connection for a policy fetch to "ip:443", the
	// address found through Resolver. Nil: a net.Dialer. Tests map the
	// port to a loopback server.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// FetchTimeout bounds one policy fetch (RFC 8461 §3.3 suggests about
	// a minute). Default 1 minute.
	FetchTimeout time.Duration
	// Now is the clock for cache expiry and certificate validity. Nil:
	// time.Now.
	Now func() time.Time
	// Logger gets fetch failures and checks that failed under MTA-STS
	// mode testing. Nil discards.
	Logger *slog.Logger
}

// Policy finds the TLS requirements of destination domains and MX hosts.
// A nil *Policy is valid and finds none (opportunistic TLS, REQUIRETLS
// still enforced). Safe for concurrent use.
type Policy struct {
	opts Options
	log  *slog.Logger
	now  func() time.Time
	sts  *stsCache
}

// New returns a Policy for opts.
func New(opts Options) (*Policy, error) {
	p := &Policy{opts: opts, log: opts.Logger, now: opts.Now}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.opts.FetchTimeout <= 0 {
		p.opts.FetchTimeout = time.Minute
	}
	c, err := newSTSCache(opts.CacheDir)
	if err != nil {
		return nil, err
	}
	p.sts = c
	return p, nil
}

// Requirement is what a destination domain asks of its senders.
type Requirement struct {
	// Domain is the destination domain, lower case.
	Domain string
	// STS is the MTA-STS policy in force (mode enforce or testing); nil
	// when the domain has none or publishes mode none.
	STS *STSPolicy
}

// Lookup returns the requirement of domain. It looks up and, when its id
// changed or the cached copy expired, fetches the domain's MTA-STS policy
// (RFC 8461 §3, §5.1). A domain without a policy, or whose policy cannot
// be had and was never cached, has none (RFC 8461 §5: it gets
// opportunistic TLS). The error is non-nil only when ctx ends.
func (p *Policy) Lookup(ctx context.Context, domain string) (Requirement, error) {
	r := Requirement{Domain: lowerDomain(domain)}
	if p == nil || p.opts.Resolver == nil {
		return r, ctx.Err()
	}
	sts, err := p.lookupSTS(ctx, r.Domain)
	if err != nil {
		return r, err
	}
	if sts != nil && sts.Mode != ModeNone {
		r.STS = sts
	}
	return r, nil
}

// AllowMX reports whether host may receive the domain's mail: under
// MTA-STS mode enforce only MX hosts that match one of the policy's mx
// patterns may (RFC 8461 §4.1); otherwise all. Skip the others.
func (r Requirement) AllowMX(host string) bool {
	return r.STS == nil || r.STS.Mode != ModeEnforce || r.STS.Match(host)
}

// Message holds what a message itself asks for.
type Message struct {
	// RequireTLS: the message was received with the REQUIRETLS MAIL FROM
	// parameter (RFC 8689 §4): every hop must use verified TLS and pass
	// the parameter on.
	RequireTLS bool
	// TLSOptional: the message carries "TLS-Required: No" (RFC 8689 §5)
	// and no REQUIRETLS: the sender prefers delivery to protection, so
	// MTA-STS and DANE are not applied (TLS is still used when offered).
	// Use TLSOptional(body) to set it; the caller must also skip
	// Requirement.AllowMX for such a message.
	TLSOptional bool
}

// Security is how a connection to an MX host must be protected.
type Security int

const (
	// Opportunistic: STARTTLS when the server offers it, any certificate;
	// plaintext when it does not (RFC 3207, RFC 7435).
	Opportunistic Security = iota
	// Encrypt: TLS is mandatory but the certificate is not checked (DANE
	// with only unusable TLSA records, RFC 7672 §2.2).
	Encrypt
	// Verify: TLS is mandatory and the certificate must pass DANE or
	// WebPKI checks.
	Verify
)

func (s Security) String() string {
	switch s {
	case Encrypt:
		return "encrypt"
	case Verify:
		return "verify"
	}
	return "opportunistic"
}

// Source names what demands TLS of a host.
const (
	SourceDANE       = "dane"
	SourceMTASTS     = "mta-sts"
	SourceREQUIRETLS = "requiretls"
)

// HostPolicy is what a connection to one MX host must satisfy. Use
// TLSConfig for STARTTLS, Plaintext when TLS cannot be had, and
// CheckREQUIRETLS after the EHLO that follows STARTTLS.
type HostPolicy struct {
	// Host is the MX host name: the TLS server name (SNI) and the name
	// the certificate must carry under WebPKI checks.
	Host     string
	Security Security
	// Source is what demands the security: SourceDANE, SourceMTASTS,
	// SourceREQUIRETLS; "" for opportunistic TLS.
	Source string
	// TLSA are the usable DANE records (usage 2 or 3) the certificate
	// must match (RFC 7672 §3); empty when DANE does not apply.
	TLSA []dns.TLSA
	// WebPKI: the chain must verify to the root CAs with Host as the name
	// (RFC 8461 §4.2; RFC 8689 §4.2.1 without DANE).
	WebPKI bool
	// Testing: MTA-STS mode testing (RFC 8461 §5): failed checks are
	// logged and the delivery goes on.
	Testing bool
	// RequireTLS: the message carries REQUIRETLS, so the server must
	// advertise REQUIRETLS and MAIL FROM must carry it (RFC 8689 §4.2.1).
	RequireTLS bool

	roots *x509.CertPool
	now   func() time.Time
	log   *slog.Logger
}

// Host returns what a connection to mx must satisfy for the message:
//
//   - DANE (RFC 7672) when the MX answer was DNSSEC-authenticated and the
//     host has authenticated TLSA records: they take precedence over
//     MTA-STS (RFC 8461 §2). A TLSA lookup that fails temporarily is an
//     error: delivery to the host must wait (RFC 7672 §2.2).
//   - MTA-STS (RFC 8461 §4.2) otherwise, when req has a policy: TLS with a
//     WebPKI-valid certificate for the MX name.
//   - REQUIRETLS (RFC 8689 §4.2.1): verified TLS in any case, and the MX
//     host must come from a DNSSEC-authenticated answer or match the
//     MTA-STS policy, else an error.
//   - Opportunistic TLS otherwise.
//
// Errors are *Error: the host cannot be used now; the message waits.
func (p *Policy) Host(ctx context.Context, req Requirement, mx dns.Host, msg Message) (HostPolicy, error) {
	h := HostPolicy{Host: lowerDomain(mx.Name), RequireTLS: msg.RequireTLS}
	if p != nil {
		h.roots, h.now, h.log = p.opts.RootCAs, p.now, p.log
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if msg.TLSOptional && !msg.RequireTLS {
		return h, nil // RFC 8689 §5: no policy, opportunistic TLS
	}
	if p != nil && p.opts.Resolver != nil && mx.Authentic {
		dane, err := p.daneRecords(ctx, h.Host)
		if err != nil {
			return h, err
		}
		if dane != nil {
			h.Source, h.TLSA = SourceDANE, dane.usable
			h.Security = Encrypt
			if len(dane.usable) > 0 {
				h.Security = Verify
			}
		}
	}
	stsMatch := req.STS != nil && req.STS.Match(h.Host)
	if h.Source == "" && req.STS != nil {
		if !stsMatch && req.STS.Mode == ModeEnforce {
			return h, &Error{Host: h.Host, Source: SourceMTASTS, Code: codeCrypto,
				Reason: "MX host does not match the MTA-STS policy of " + req.Domain}
		}
		h.Source, h.Security, h.WebPKI = SourceMTASTS, Verify, true
		h.Testing = req.STS.Mode == ModeTesting
	}
	if msg.RequireTLS {
		if !mx.Authentic && !stsMatch {
			return h, &Error{Host: h.Host, Source: SourceREQUIRETLS, Code: codeRequireTLS,
				Reason: "REQUIRETLS: MX host neither DNSSEC-authenticated nor listed by an MTA-STS policy"}
		}
		h.Testing = false
		if h.Security != Verify || (len(h.TLSA) == 0 && !h.WebPKI) {
			h.Security, h.WebPKI = Verify, true
		}
		if h.Source == "" {
			h.Source = SourceREQUIRETLS
		}
	}
	return h, nil
}

// Mandatory reports whether the message may only go to this host over
// TLS (a failed check under MTA-STS testing does not count).
func (h HostPolicy) Mandatory() bool { return h.Security != Opportunistic && !h.Testing }

// Plaintext is asked when TLS cannot be had with the host (no STARTTLS
// offered, or the handshake or Verify failed): nil when the message may
// go without TLS, an *Error when it must wait for another host or a
// later attempt.
func (h HostPolicy) Plaintext() error {
	if h.Security == Opportunistic {
		return nil
	}
	err := &Error{Host: h.Host, Source: h.Source, Code: codeCrypto, Reason: "TLS required but not available"}
	if h.RequireTLS {
		err.Code = codeRequireTLS
	}
	if h.Testing {
		h.log.Warn("tlspolicy: MTA-STS testing: delivering without TLS", "host", h.Host, "err", err)
		return nil
	}
	return err
}

// CheckREQUIRETLS is asked after the EHLO that follows STARTTLS, with
// whether the server advertised REQUIRETLS: a message that carries it may
// only go to a server that does (RFC 8689 §4.2.1).
func (h HostPolicy) CheckREQUIRETLS(advertised bool) error {
	if !h.RequireTLS || advertised {
		return nil
	}
	return &Error{Host: h.Host, Source: SourceREQUIRETLS, Code: codeRequireTLS, Reason: "server does not support REQUIRETLS"}
}

// TLSConfig returns the client configuration for STARTTLS to the host,
// derived from base (may be nil; certificates for client authentication,
// say). Certificate checks happen in VerifyConnection through Verify,
// so opportunistic TLS accepts any certificate; under MTA-STS testing a
// failed check is logged and the handshake goes on.
func (h HostPolicy) TLSConfig(base *tls.Config) *tls.Config {
	var c *tls.Config
	if base != nil {
		c = base.Clone()
	} else {
		c = &tls.Config{}
	}
	c.ServerName = h.Host
	c.InsecureSkipVerify = true // Verify does the checking
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		err := h.Verify(cs)
		if err != nil && h.Testing {
			h.log.Warn("tlspolicy: MTA-STS testing: certificate check failed, delivering anyway", "host", h.Host, "err", err)
			return nil
		}
		return err
	}
	return c
}

// Verify checks the connection state of a TLS session with the host: the
// DANE records when there are any (RFC 7672 §3), else the WebPKI chain
// and name when asked for; nothing for opportunistic or encrypt-only TLS.
func (h HostPolicy) Verify(cs tls.ConnectionState) error {
	if h.Security != Verify {
		return nil
	}
	if len(cs.PeerCertificates) == 0 {
		return h.verifyError("no certificate")
	}
	now := time.Now
	if h.now != nil {
		now = h.now
	}
	if len(h.TLSA) > 0 {
		if err := verifyDANE(h.TLSA, h.Host, cs.PeerCertificates, now()); err != nil {
			return h.verifyError(err.Error())
		}
		return nil
	}
	if h.WebPKI {
		if err := verifyWebPKI(h.roots, h.Host, cs.PeerCertificates, now()); err != nil {
			return h.verifyError(err.Error())
		}
	}
	return nil
}

func (h HostPolicy) verifyError(reason string) *Error {
	code := codeCrypto
	if h.RequireTLS {
		code = codeRequireTLS
	}
	return &Error{Host: h.Host, Source: h.Source, Code: code, Reason: "certificate: " + reason}
}

// verifyWebPKI checks the chain to roots and the name (RFC 6125 as
// crypto/x509 implements it: DNS names in subjectAltName, one wildcard
// label).
func verifyWebPKI(roots *x509.CertPool, host string, chain []*x509.Certificate, now time.Time) error {
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{
		DNSName:       host,
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	return err
}

// Enhanced status codes of policy failures.
var (
	// codeCrypto: RFC 3463 §3.8 X.7.5, cryptographic failure.
	codeCrypto = smtp.EnhancedCode{4, 7, 5}
	// codeRequireTLS: RFC 8689 §6 X.7.30, REQUIRETLS support required.
	codeRequireTLS = smtp.EnhancedCode{4, 7, 30}
)

// Error is a policy that cannot be met with a host now. The message must
// not go to that host; it waits for another host or a later attempt. The
// queue's give-up time ends the wait with a bounce carrying Code with
// class 5.
type Error struct {
	Host   string
	Source string // SourceDANE, SourceMTASTS, SourceREQUIRETLS
	// Code is the enhanced status code (class 4) for logs and DSNs.
	Code   smtp.EnhancedCode
	Reason string
}

func (e *Error) Error() string {
	src := e.Source
	if src == "" {
		src = "tls policy"
	}
	return fmt.Sprintf("%s: %s: %s", src, e.Host, e.Reason)
}

// Temporary is always true: a policy failure defers, it never bounces at
// once (RFC 8461 §5, RFC 7672 §2.2).
func (e *Error) Temporary() bool { return true }
