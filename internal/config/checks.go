package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// checks validates [checks].
func (v *validator) checks(c Checks) {
	const p = "checks."
	v.prefixes(p+"trusted_networks", c.TrustedNetworks)
	v.prefixes(p+"trusted_forwarders", c.TrustedForwarders)
	v.domainList(p+"quarantine_instead_of_reject", c.QuarantineInsteadOfReject)
	v.domainList(p+"trusted_arc_sealers", c.TrustedARCSealers)
	for i, z := range c.DNSBL {
		if err := checkFQDN(z); err != nil {
			v.add(fmt.Sprintf("%sdnsbl[%d]", p, i), fmt.Sprintf("%q: %v", z, err), `write a blocklist zone such as "zen.spamhaus.org"`)
		}
	}
	if c.DNSBLAction != "reject" && c.DNSBLAction != "header" {
		v.add(p+"dnsbl_action", fmt.Sprintf("%q: unknown action", c.DNSBLAction), `use "reject" or "header"`)
	}
	v.duration(p+"greylist_delay", c.GreylistDelay, false)
	v.prefixes(p+"greylist_allow", c.GreylistAllow)
	v.domainList(p+"greylist_allow_domains", c.GreylistAllowDomains)
	v.duration(p+"timeout", c.Timeout, false)
}

func (v *validator) domainList(key string, list []string) {
	for i, d := range list {
		if err := checkFQDN(d); err != nil {
			v.add(fmt.Sprintf("%s[%d]", key, i), fmt.Sprintf("%q: %v", d, err), `write a domain name such as "example.com"`)
		}
	}
}

// prefixes checks a list of networks ("192.0.2.0/24", "2001:db8::/32") or
// single addresses.
func (v *validator) prefixes(key string, list []string) {
	for i, s := range list {
		if _, err := parsePrefix(s); err != nil {
			v.add(fmt.Sprintf("%s[%d]", key, i), fmt.Sprintf("%q: %v", s, err), `write a network such as "192.0.2.0/24" or an address such as "192.0.2.1"`)
		}
	}
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("not a network")
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("not an IP address or network")
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Prefixes parses a list checked by Validate (trusted_networks,
// trusted_forwarders); entries that do not parse are left out.
func Prefixes(list []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := parsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// dns validates [dns].
func (v *validator) dns(d DNS) {
	for i, s := range d.Servers {
		if _, err := serverAddr(s); err != nil {
			v.add(fmt.Sprintf("dns.servers[%d]", i), fmt.Sprintf("%q: %v", s, err), `write an IP address with an optional port, e.g. "127.0.0.1:53" or "::1"`)
		}
	}
	v.duration("dns.timeout", d.Timeout, false)
	if d.CacheSize < 0 {
		v.add("dns.cache_size", fmt.Sprintf("%d: negative", d.CacheSize), "use 0 to turn the cache off; the default is 4096")
	}
}

// ServerAddrs returns servers as "ip:port" (port 53 when none is given);
// entries that do not parse are left out (Validate reports them).
func (d DNS) ServerAddrs() []string {
	var out []string
	for _, s := range d.Servers {
		if a, err := serverAddr(s); err == nil {
			out = append(out, a)
		}
	}
	return out
}

func serverAddr(s string) (string, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return net.JoinHostPort(a.String(), "53"), nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("not an address")
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return "", fmt.Errorf("not an IP address (a name would need DNS itself)")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("bad port %q", port)
	}
	return net.JoinHostPort(a.String(), port), nil
}
