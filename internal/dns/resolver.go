package dns

import (
	"context"
	"errors"
	"net"
	"net/netip"
)

// Resolver is the one DNS contract of posthorn. Every package that looks up
// DNS takes a Resolver; production uses *Client, tests a Client pointed at
// a dnstest.Server.
//
// Names may be given with or without the trailing dot; names returned are
// lower case without it. Errors are *Error values that match ErrNXDomain,
// ErrNoRecords, ErrTemporary or ErrInvalidName with errors.Is.
type Resolver interface {
	// LookupMX returns the MX records of name sorted by preference, equal
	// preferences in random order (RFC 5321 §5.1). A null MX (RFC 7505) is
	// returned as it is, as one record with Host "" — MailHosts interprets it.
	LookupMX(ctx context.Context, name string) ([]MX, Result, error)
	// LookupIP returns the addresses of host: network "ip4" asks A, "ip6"
	// AAAA, "ip" both (IPv6 first, then IPv4; found when either has any).
	LookupIP(ctx context.Context, network, host string) ([]netip.Addr, Result, error)
	// LookupTXT returns one string per TXT record, its character-strings
	// concatenated (RFC 7208 §3.3, RFC 6376 §3.6.2.2).
	LookupTXT(ctx context.Context, name string) ([]string, Result, error)
	// LookupAddr returns the PTR names of ip (reverse DNS).
	LookupAddr(ctx context.Context, ip netip.Addr) ([]string, Result, error)
	// LookupTLSA returns the TLSA records of _port._proto.host (RFC 6698,
	// RFC 7672 §2.2), e.g. LookupTLSA(ctx, 25, "tcp", "mx.example.org").
	LookupTLSA(ctx context.Context, port int, proto, host string) ([]TLSA, Result, error)
	// LookupCNAME follows the CNAME chain of host and returns the canonical
	// name (host itself when it is no alias). It is found when the final
	// name exists, with or without address records.
	LookupCNAME(ctx context.Context, host string) (string, Result, error)
}

// Result describes how an answer was obtained.
type Result struct {
	// Authentic is true when every response that made up the answer had the
	// AD bit set by a resolver configured as validating (Config.TrustAD);
	// never true otherwise. DANE (RFC 7672) needs it.
	Authentic bool
	// Canonical is the name the records were found at after following
	// CNAMEs (the queried name when there was no alias), lower case without
	// the trailing dot. Set on errors too when known.
	Canonical string
}

// MX is one mail exchanger (RFC 1035 §3.3.9).
type MX struct {
	// Host is the exchanger's name, lower case without trailing dot; ""
	// for the null MX "." of RFC 7505.
	Host string
	Pref uint16
}

// TLSA is one TLSA record (RFC 6698 §2.1).
type TLSA struct {
	Usage        uint8 // 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE
	Selector     uint8 // 0 full certificate, 1 SubjectPublicKeyInfo
	MatchingType uint8 // 0 exact, 1 SHA-256, 2 SHA-512
	Data         []byte
}

// Sentinel kinds of lookup failure; *Error matches them with errors.Is.
var (
	// ErrNXDomain: the name does not exist (RCODE 3, RFC 1035 §4.1.1).
	ErrNXDomain = errors.New("no such domain")
	// ErrNoRecords: the name exists but has no records of the type asked
	// (NODATA, RFC 2308 §2.2).
	ErrNoRecords = errors.New("no records")
	// ErrTemporary: no usable answer now (SERVFAIL, REFUSED, timeout,
	// network error); try again later.
	ErrTemporary = errors.New("temporary DNS failure")
	// ErrInvalidName: the name is not a valid domain name.
	ErrInvalidName = errors.New("invalid domain name")
	// ErrNullMX: the domain publishes a null MX and accepts no mail
	// (RFC 7505 §3). Returned by MailHosts, not by lookups.
	ErrNullMX = errors.New("domain accepts no mail (null MX)")
)

// Error is a failed lookup.
type Error struct {
	Name string // the name asked, as given
	Type string // the query type, e.g. "MX"
	Kind error  // ErrNXDomain, ErrNoRecords, ErrTemporary or ErrInvalidName
	// Server is the server that gave the final answer, if any.
	Server string
	// Err is the underlying cause (network error, rcode), may be nil.
	Err error
}

func (e *Error) Error() string {
	s := "dns: " + e.Type + " " + e.Name + ": " + e.Kind.Error()
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap lets errors.Is match the kind and the cause.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// Temporary reports whether trying again later may succeed (net.Error).
func (e *Error) Temporary() bool { return e.Kind == ErrTemporary }

// Timeout reports whether the lookup timed out (net.Error).
func (e *Error) Timeout() bool {
	var ne net.Error
	return errors.As(e.Err, &ne) && ne.Timeout() || errors.Is(e.Err, context.DeadlineExceeded)
}

var _ net.Error = (*Error)(nil)

// IsNotFound reports whether err says the name or its records do not exist
// (NXDOMAIN or NODATA): a definite answer, unlike a temporary failure.
func IsNotFound(err error) bool {
	return errors.Is(err, ErrNXDomain) || errors.Is(err, ErrNoRecords)
}

// IsTemporary reports whether err is a temporary failure.
func IsTemporary(err error) bool { return errors.Is(err, ErrTemporary) }

// NetError converts err to a *net.DNSError for libraries that inspect the
// standard library's error type (IsNotFound, IsTemporary), such as the SPF
// and DKIM libraries. Other errors are returned unchanged.
func NetError(err error) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	return &net.DNSError{
		Err:         e.Error(),
		Name:        e.Name,
		Server:      e.Server,
		IsTimeout:   e.Timeout(),
		IsTemporary: e.Temporary(),
		IsNotFound:  IsNotFound(e),
	}
}
