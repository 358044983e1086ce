package tlspolicy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/posthorn/posthorn/internal/dns"
)

// DANE for SMTP (RFC 7672): TLSA records at _25._tcp.MXHOST, believed
// only when the answer is DNSSEC-authenticated (dns.Result.Authentic,
// which the resolver sets only for a configured validating resolver).
//
// Deviations: TLSA records are looked up for
// every host of a secure MX answer without first checking that the host's
// address records are secure (RFC 7672 §2.2.2 allows skipping DANE then),
// and at the MX host name as given, not at a CNAME target (§2.2.3). A
// DANE-TA record must match a certificate the server sends; a trust
// anchor published only as a key (2 1 x) that the server leaves out of
// its chain does not verify.

// TLSA usages (RFC 6698 §2.1.1) and what RFC 7672 §3.1 makes of them.
const (
	usagePKIXTA = 0 // unusable for SMTP (RFC 7672 §3.1.3)
	usagePKIXEE = 1 // unusable for SMTP (RFC 7672 §3.1.3)
	usageDANETA = 2
	usageDANEEE = 3
)

// daneSet is the outcome of a secure TLSA lookup.
type daneSet struct {
	usable []dns.TLSA // usages 2 and 3 with known selector and matching type
}

// daneRecords looks up the TLSA records of host. It returns nil when DANE
// does not apply (no records, or an answer that is not authenticated),
// a set (possibly with no usable records) when it does, and an *Error
// when the lookup failed in a way that must defer delivery (RFC 7672
// §2.2: a failed TLSA lookup of a host with a secure MX is not a denial).
func (p *Policy) daneRecords(ctx context.Context, host string) (*daneSet, error) {
	recs, res, err := p.opts.Resolver.LookupTLSA(ctx, 25, "tcp", host)
	switch {
	case err == nil:
	case dns.IsNotFound(err):
		return nil, nil
	default:
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &Error{Host: host, Source: SourceDANE, Code: codeCrypto, Reason: "TLSA lookup failed: " + err.Error()}
	}
	if !res.Authentic {
		return nil, nil // insecure TLSA records are ignored (RFC 7672 §2.2)
	}
	set := &daneSet{}
	for _, r := range recs {
		if usableTLSA(r) {
			set.usable = append(set.usable, r)
		}
	}
	return set, nil
}

// usableTLSA reports whether r can authenticate an SMTP server: DANE-TA
// or DANE-EE, selector full certificate or SPKI, matching exact, SHA-256
// or SHA-512, with data of the right length (RFC 7672 §3.1).
func usableTLSA(r dns.TLSA) bool {
	if r.Usage != usageDANETA && r.Usage != usageDANEEE {
		return false
	}
	if r.Selector > 1 {
		return false
	}
	switch r.MatchingType {
	case 0:
		return len(r.Data) > 0
	case 1:
		return len(r.Data) == sha256.Size
	case 2:
		return len(r.Data) == sha512.Size
	}
	return false
}

// matchTLSA reports whether cert matches r's selector and matching type.
func matchTLSA(r dns.TLSA, cert *x509.Certificate) bool {
	data := cert.Raw
	if r.Selector == 1 {
		data = cert.RawSubjectPublicKeyInfo
	}
	switch r.MatchingType {
	case 1:
		sum := sha256.Sum256(data)
		data = sum[:]
	case 2:
		sum := sha512.Sum512(data)
		data = sum[:]
	}
	return bytes.Equal(data, r.Data)
}

// verifyDANE checks the peer's chain against the usable records:
//
//   - DANE-EE(3) matches the leaf certificate or its key; its names and
//     dates are not checked (RFC 7672 §3.1.1).
//   - DANE-TA(2) matches a certificate of the chain the server sent (RFC
//     7672 §3.1.2 asks servers to include it); the leaf must chain to it
//     and carry the MX host name (RFC 7672 §3.2.2) and be within its
//     validity dates.
func verifyDANE(recs []dns.TLSA, host string, chain []*x509.Certificate, now time.Time) error {
	leaf := chain[0]
	var errs []string
	for _, r := range recs {
		if r.Usage == usageDANEEE && matchTLSA(r, leaf) {
			return nil
		}
	}
	for _, r := range recs {
		if r.Usage != usageDANETA {
			continue
		}
		for i, ta := range chain {
			if !matchTLSA(r, ta) {
				continue
			}
			if i == 0 {
				// The leaf as its own trust anchor: its name and dates
				// still count.
				if err := leaf.VerifyHostname(host); err != nil {
					errs = append(errs, err.Error())
					continue
				}
				if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
					errs = append(errs, "certificate expired or not yet valid")
					continue
				}
				return nil
			}
			roots := x509.NewCertPool()
			roots.AddCert(ta)
			inter := x509.NewCertPool()
			for _, c := range chain[1:i] {
				inter.AddCert(c)
			}
			_, err := leaf.Verify(x509.VerifyOptions{
				DNSName:       host,
				Roots:         roots,
				Intermediates: inter,
				CurrentTime:   now,
				KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
			})
			if err == nil {
				return nil
			}
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("no TLSA record matches (%s)", strings.Join(errs, "; "))
	}
	return errors.New("no TLSA record matches the certificate chain")
}
