// Package iprev checks a client's forward-confirmed reverse DNS, the
// "iprev" method of RFC 8601 §3: the PTR names of the address (RFC 1035
// §3.5), of which at least one must have an A or AAAA record giving the
// address back.
package iprev

import (
	"context"
	"net/netip"

	"github.com/posthorn/posthorn/internal/dns"
)

// Status is an iprev result (RFC 8601 §2.7.3).
type Status string

const (
	Pass      Status = "pass"
	Fail      Status = "fail"      // no name, or no name resolves back
	TempError Status = "temperror" // DNS failure
	PermError Status = "permerror"
)

// maxNames bounds the PTR names tried (RFC 8601 §3 leaves it to us; as
// RFC 7208 §4.6.4 does for SPF's ptr, 10).
const maxNames = 10

// Result is the verdict on one address.
type Result struct {
	Status Status
	// Name is the confirmed name (pass), else the first PTR name or "".
	Name string
}

// Check looks up ip's reverse names and confirms them forward.
func Check(ctx context.Context, r dns.Resolver, ip netip.Addr) Result {
	ip = ip.Unmap()
	names, _, err := r.LookupAddr(ctx, ip)
	switch {
	case dns.IsNotFound(err):
		return Result{Status: Fail}
	case err != nil:
		return Result{Status: TempError}
	}
	network := "ip4"
	if ip.Is6() {
		network = "ip6"
	}
	temp := false
	for i, name := range names {
		if i == maxNames {
			break
		}
		addrs, _, err := r.LookupIP(ctx, network, name)
		if err != nil {
			temp = temp || dns.IsTemporary(err)
			continue
		}
		for _, a := range addrs {
			if a.Unmap() == ip {
				return Result{Status: Pass, Name: name}
			}
		}
	}
	res := Result{Status: Fail}
	if len(names) > 0 {
		res.Name = names[0]
	}
	if temp {
		res.Status = TempError
	}
	return res
}
