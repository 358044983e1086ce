// Package spf checks the Sender Policy Framework (RFC 7208) for the two
// identities a receiving server sees: the MAIL FROM reverse-path (§2.4)
// and the HELO name (§2.3).
//
// It is a thin adapter over blitiri.com.ar/go/spf (LIBRARIES.md), which
// implements every mechanism and modifier, macros (§7), the limits of 10
// DNS-querying terms and 2 void lookups (§4.6.4, both permerror), and
// passes the RFC 7208 test suite. What this package adds:
//
//   - lookups go through internal/dns (dns.NetResolver), so they share the
//     daemon's servers, timeouts and cache, and a DNS failure or timeout is
//     temperror (§2.6.6), never a lost message;
//   - the null reverse-path <> is checked as postmaster@HELO (§2.4), and a
//     HELO that is an address literal gives none (§2.3: no domain);
//   - results carry the domain checked, for Authentication-Results
//     (RFC 8601 §2.7.2) and DMARC (RFC 7489 §4.2, the SPF-authenticated
//     domain).
//
// The library ignores exp= (explanations): our rejections never quote a
// sender-provided text.
package spf

import (
	"context"
	"net"
	"net/netip"
	"strings"

	libspf "blitiri.com.ar/go/spf"

	"github.com/posthorn/posthorn/internal/dns"
)

// Status is an SPF result (RFC 7208 §2.6), named as in
// Authentication-Results.
type Status string

const (
	None      Status = "none"
	Neutral   Status = "neutral"
	Pass      Status = "pass"
	Fail      Status = "fail"
	SoftFail  Status = "softfail"
	TempError Status = "temperror"
	PermError Status = "permerror"
)

// Result is the verdict for one identity.
type Result struct {
	Status Status
	// Domain is the domain whose policy was checked ("" when there was
	// none, e.g. a HELO address literal).
	Domain string
	// Err says why, for logs; it may be set on pass too (the library
	// reports the matching term). Never for a client.
	Err error
}

// CheckMailFrom checks the MAIL FROM identity (RFC 7208 §2.4): sender is the
// reverse-path's mailbox, "" for the null sender, in which case the
// identity is postmaster@helo (as it is for a sender without a domain).
func CheckMailFrom(ctx context.Context, r dns.Resolver, ip netip.Addr, helo, sender string) Result {
	at := strings.LastIndexByte(sender, '@')
	if at < 0 || at == len(sender)-1 {
		// The null sender, or no domain: the HELO identity (§2.4).
		return CheckHelo(ctx, r, ip, helo)
	}
	return check(ctx, r, ip, helo, sender, sender[at+1:])
}

// CheckHelo checks the HELO identity (RFC 7208 §2.3) as
// postmaster@helo. An address literal or an empty HELO gives none.
func CheckHelo(ctx context.Context, r dns.Resolver, ip netip.Addr, helo string) Result {
	if helo == "" || strings.HasPrefix(helo, "[") || !strings.Contains(helo, ".") {
		return Result{Status: None}
	}
	return check(ctx, r, ip, helo, "postmaster@"+helo, helo)
}

func check(ctx context.Context, r dns.Resolver, ip netip.Addr, helo, sender, domain string) Result {
	res, err := libspf.CheckHostWithSender(net.IP(ip.Unmap().AsSlice()), helo, sender,
		libspf.WithContext(ctx), libspf.WithResolver(dns.NetResolver{R: r}))
	return Result{Status: Status(res), Domain: strings.ToLower(strings.TrimSuffix(domain, ".")), Err: err}
}
