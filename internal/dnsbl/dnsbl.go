// Package dnsbl looks client addresses up in DNS blocklists (RFC 5782): the
// address's octets reversed (IPv4) or nibbles reversed (IPv6, §2.4) under
// the list's zone; an A record in 127.0.0.0/8 means listed (§2.1), no
// record means not listed. Answers outside 127/8 are ignored: some lists
// answer that way when they refuse to serve a resolver (e.g. Spamhaus's
// 127.255.255.x error codes are inside 127/8 but name the error, so those
// are ignored too).
package dnsbl

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/posthorn/posthorn/internal/dns"
)

// Result lists the zones that list an address and those that could not be
// asked.
type Result struct {
	Listed []string
	// Failed are zones whose lookup failed (timeout, SERVFAIL): neither
	// listed nor clean.
	Failed []string
}

// Check asks every zone about ip, in order.
func Check(ctx context.Context, r dns.Resolver, ip netip.Addr, zones []string) Result {
	var res Result
	if len(zones) == 0 {
		return res
	}
	q := reverse(ip.Unmap())
	for _, z := range zones {
		addrs, _, err := r.LookupIP(ctx, "ip4", q+"."+strings.TrimSuffix(z, "."))
		switch {
		case dns.IsNotFound(err):
		case err != nil:
			res.Failed = append(res.Failed, z)
		case listed(addrs):
			res.Listed = append(res.Listed, z)
		}
	}
	return res
}

func listed(addrs []netip.Addr) bool {
	for _, a := range addrs {
		b := a.As4()
		if a.Is4() && b[0] == 127 && !(b[1] == 255 && b[2] == 255) {
			return true
		}
	}
	return false
}

// reverse returns the query label sequence for ip: "4.3.2.1" for 1.2.3.4,
// 32 nibbles for IPv6.
func reverse(ip netip.Addr) string {
	if ip.Is4() {
		b := ip.As4()
		return fmt.Sprintf("%d.%d.%d.%d", b[3], b[2], b[1], b[0])
	}
	b := ip.As16()
	var sb strings.Builder
	for i := len(b) - 1; i >= 0; i-- {
		fmt.Fprintf(&sb, "%x.%x.", b[i]&0xf, b[i]>>4)
	}
	return strings.TrimSuffix(sb.String(), ".")
}
