package delivery

import (
	"context"
	"crypto/tls"
)

// TLSPolicy decides, per destination domain, whether TLS is required and
// how to check a connection (MTA-STS, RFC 8461; DANE, RFC 7672). The
// outbound TLS policy package implements it; nil means opportunistic TLS
// everywhere, certificates unchecked (RFC 7435).
type TLSPolicy interface {
	Lookup(ctx context.Context, domain string) (TLSRequirement, error)
}

// TLSRequirement is the policy for one domain.
type TLSRequirement interface {
	// Required: never deliver in plaintext or over a failed check.
	Required() bool
	// AllowHost reports whether mail may go to this MX host at all.
	AllowHost(mxHost string) bool
	// Verify checks the TLS connection to mxHost (certificate name,
	// TLSA records). A failure with Required means: try another host,
	// else keep the message.
	Verify(mxHost string, cs tls.ConnectionState) error
}
