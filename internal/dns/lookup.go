package dns

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// LookupMX implements Resolver.
func (c *Client) LookupMX(ctx context.Context, name string) ([]MX, Result, error) {
	rrs, res, err := c.query(ctx, name, dns.TypeMX)
	if err != nil {
		return nil, res, err
	}
	mxs := make([]MX, 0, len(rrs))
	for _, rr := range rrs {
		mx := rr.(*dns.MX)
		mxs = append(mxs, MX{Host: trimDot(mx.Mx), Pref: mx.Preference})
	}
	sortMX(mxs, c.shuffle)
	return mxs, res, nil
}

// sortMX orders mxs by preference and shuffles each run of equal
// preference (RFC 5321 §5.1: "randomize them to spread the load").
func sortMX(mxs []MX, shuffle func(n int, swap func(i, j int))) {
	slices.SortStableFunc(mxs, func(a, b MX) int { return int(a.Pref) - int(b.Pref) })
	for i := 0; i < len(mxs); {
		j := i + 1
		for j < len(mxs) && mxs[j].Pref == mxs[i].Pref {
			j++
		}
		if j-i > 1 {
			run := mxs[i:j]
			shuffle(len(run), func(a, b int) { run[a], run[b] = run[b], run[a] })
		}
		i = j
	}
}

// LookupIP implements Resolver.
func (c *Client) LookupIP(ctx context.Context, network, host string) ([]netip.Addr, Result, error) {
	switch network {
	case "ip4":
		return c.lookupAddrs(ctx, host, dns.TypeA)
	case "ip6":
		return c.lookupAddrs(ctx, host, dns.TypeAAAA)
	case "ip":
	default:
		return nil, Result{}, fmt.Errorf("dns: LookupIP: unknown network %q", network)
	}
	type answer struct {
		ips []netip.Addr
		res Result
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		ips, res, err := c.lookupAddrs(ctx, host, dns.TypeA)
		ch <- answer{ips, res, err}
	}()
	ips6, res6, err6 := c.lookupAddrs(ctx, host, dns.TypeAAAA)
	a4 := <-ch
	ips := append(ips6, a4.ips...)
	res := Result{Authentic: res6.Authentic && a4.res.Authentic, Canonical: res6.Canonical}
	if res.Canonical == "" {
		res.Canonical = a4.res.Canonical
	}
	switch {
	case len(ips) > 0:
		return ips, res, nil
	case IsTemporary(err6) || errors.Is(err6, ErrInvalidName):
		return nil, res, err6
	case IsTemporary(a4.err):
		return nil, res, a4.err
	case errors.Is(err6, ErrNoRecords):
		return nil, res, &Error{Name: host, Type: "A/AAAA", Kind: ErrNoRecords}
	default:
		return nil, res, a4.err
	}
}

func (c *Client) lookupAddrs(ctx context.Context, host string, qtype uint16) ([]netip.Addr, Result, error) {
	rrs, res, err := c.query(ctx, host, qtype)
	if err != nil {
		return nil, res, err
	}
	ips := make([]netip.Addr, 0, len(rrs))
	for _, rr := range rrs {
		var ip netip.Addr
		var ok bool
		switch rr := rr.(type) {
		case *dns.A:
			ip, ok = netip.AddrFromSlice(rr.A.To4())
		case *dns.AAAA:
			ip, ok = netip.AddrFromSlice(rr.AAAA.To16())
		}
		if ok {
			ips = append(ips, ip)
		}
	}
	return ips, res, nil
}

// LookupTXT implements Resolver.
func (c *Client) LookupTXT(ctx context.Context, name string) ([]string, Result, error) {
	rrs, res, err := c.query(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, res, err
	}
	txts := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		txts = append(txts, strings.Join(rr.(*dns.TXT).Txt, ""))
	}
	return txts, res, nil
}

// LookupAddr implements Resolver.
func (c *Client) LookupAddr(ctx context.Context, ip netip.Addr) ([]string, Result, error) {
	arpa, err := dns.ReverseAddr(ip.Unmap().String())
	if err != nil {
		return nil, Result{}, &Error{Name: ip.String(), Type: "PTR", Kind: ErrInvalidName, Err: err}
	}
	rrs, res, err := c.query(ctx, arpa, dns.TypePTR)
	if err != nil {
		return nil, res, err
	}
	names := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		names = append(names, trimDot(rr.(*dns.PTR).Ptr))
	}
	return names, res, nil
}

// LookupTLSA implements Resolver.
func (c *Client) LookupTLSA(ctx context.Context, port int, proto, host string) ([]TLSA, Result, error) {
	name := fmt.Sprintf("_%d._%s.%s", port, proto, host)
	rrs, res, err := c.query(ctx, name, dns.TypeTLSA)
	if err != nil {
		return nil, res, err
	}
	out := make([]TLSA, 0, len(rrs))
	for _, rr := range rrs {
		t := rr.(*dns.TLSA)
		data, err := hex.DecodeString(t.Certificate)
		if err != nil {
			continue // malformed record: unusable (RFC 7672 §2.2)
		}
		out = append(out, TLSA{Usage: t.Usage, Selector: t.Selector, MatchingType: t.MatchingType, Data: data})
	}
	return out, res, nil
}

// LookupCNAME implements Resolver. It asks for A records and reports the
// name the chain ends at.
func (c *Client) LookupCNAME(ctx context.Context, host string) (string, Result, error) {
	_, res, err := c.query(ctx, host, dns.TypeA)
	if err != nil && !errors.Is(err, ErrNoRecords) {
		return "", res, err
	}
	return res.Canonical, res, nil
}

// SRV is one SRV record (RFC 2782).
type SRV struct {
	Target   string // lower case without the trailing dot; "" for "." (no service)
	Port     uint16
	Priority uint16
	Weight   uint16
}

// LookupSRV returns the SRV records of _service._proto.name (RFC 2782),
// e.g. LookupSRV(ctx, "submissions", "tcp", "example.org") for RFC 6186
// and RFC 8314 client configuration. Not part of Resolver: only the
// operator's DNS check needs it.
func (c *Client) LookupSRV(ctx context.Context, service, proto, name string) ([]SRV, Result, error) {
	rrs, res, err := c.query(ctx, "_"+service+"._"+proto+"."+name, dns.TypeSRV)
	if err != nil {
		return nil, res, err
	}
	out := make([]SRV, 0, len(rrs))
	for _, rr := range rrs {
		s := rr.(*dns.SRV)
		out = append(out, SRV{Target: trimDot(s.Target), Port: s.Port, Priority: s.Priority, Weight: s.Weight})
	}
	return out, res, nil
}
