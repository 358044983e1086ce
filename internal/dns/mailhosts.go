package dns

import (
	"context"
	"errors"
)

// Host is one host to try for mail to a domain, in order.
type Host struct {
	// Name is the host name, lower case without trailing dot.
	Name string
	// Pref is the MX preference; 0 for an implicit MX.
	Pref uint16
	// Implicit is true when the domain has no MX records and the domain
	// itself is the host (RFC 5321 §5.1).
	Implicit bool
	// Authentic is true when the MX answer (or the denial of MX records,
	// for an implicit MX) was DNSSEC-authenticated: the condition for
	// looking up TLSA records of the host (RFC 7672 §2.2.1).
	Authentic bool
}

// MailHosts returns the hosts that receive mail for domain, in the order to
// try them (RFC 5321 §5.1):
//
//   - the MX hosts by preference, equal preferences shuffled;
//   - without MX records, the domain itself as an implicit MX, provided it
//     has an address record (A or AAAA);
//   - ErrNullMX when the domain publishes a null MX (RFC 7505 §3): the
//     sender should bounce at once with 556 5.1.10 (RFC 7505 §4.2);
//   - ErrNXDomain or ErrNoRecords (permanent) when the domain does not
//     exist or has neither MX nor address records; ErrTemporary when the
//     answer cannot be had now.
//
// A CNAME at the domain is followed: the MX records of the canonical name
// are used (RFC 5321 §5.1), and the implicit host is the canonical name.
// A null MX mixed with other MX records is a misconfiguration (RFC 7505 §3
// says a domain "MUST NOT" do that); the "." record is skipped and the
// real hosts are used, so mail still flows. Discarding MX hosts that are this
// server itself (and those less preferred) is the caller's job.
func MailHosts(ctx context.Context, r Resolver, domain string) ([]Host, error) {
	mxs, res, err := r.LookupMX(ctx, domain)
	switch {
	case err == nil:
	case errors.Is(err, ErrNoRecords):
		// Implicit MX: the (canonical) domain itself, if it has an address.
		name := res.Canonical
		if name == "" {
			name = domain
		}
		if _, _, err := r.LookupIP(ctx, "ip", name); err != nil {
			return nil, err
		}
		return []Host{{Name: name, Implicit: true, Authentic: res.Authentic}}, nil
	default:
		return nil, err
	}
	hosts := make([]Host, 0, len(mxs))
	for _, mx := range mxs {
		if mx.Host == "" {
			continue
		}
		hosts = append(hosts, Host{Name: mx.Host, Pref: mx.Pref, Authentic: res.Authentic})
	}
	if len(hosts) == 0 {
		// Only "." records: the domain accepts no mail.
		return nil, &Error{Name: domain, Type: "MX", Kind: ErrNullMX}
	}
	return hosts, nil
}
