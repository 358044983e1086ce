package dns

import (
	"context"
	"net"
	"net/netip"
)

// NetResolver shows a Resolver with the method signatures of
// *net.Resolver, for libraries that take that shape (the SPF library's
// resolver interface, for one), so their lookups go through the same
// servers and cache as ours. Errors are *net.DNSError (see NetError), and
// names carry the trailing dot, as the standard library returns them.
type NetResolver struct {
	R Resolver
}

// LookupTXT is net.Resolver.LookupTXT.
func (n NetResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txts, _, err := n.R.LookupTXT(ctx, name)
	return txts, NetError(err)
}

// LookupMX is net.Resolver.LookupMX; a null MX has Host ".".
func (n NetResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	mxs, _, err := n.R.LookupMX(ctx, name)
	if err != nil {
		return nil, NetError(err)
	}
	out := make([]*net.MX, len(mxs))
	for i, mx := range mxs {
		out[i] = &net.MX{Host: mx.Host + ".", Pref: mx.Pref}
	}
	return out, nil
}

// LookupIPAddr is net.Resolver.LookupIPAddr.
func (n NetResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	ips, _, err := n.R.LookupIP(ctx, "ip", host)
	if err != nil {
		return nil, NetError(err)
	}
	out := make([]net.IPAddr, len(ips))
	for i, ip := range ips {
		out[i] = net.IPAddr{IP: net.IP(ip.AsSlice()), Zone: ip.Zone()}
	}
	return out, nil
}

// LookupAddr is net.Resolver.LookupAddr.
func (n NetResolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return nil, &net.DNSError{Err: "unrecognized address", Name: addr}
	}
	names, _, err := n.R.LookupAddr(ctx, ip)
	if err != nil {
		return nil, NetError(err)
	}
	out := make([]string, len(names))
	for i, name := range names {
		out[i] = name + "."
	}
	return out, nil
}

// LookupCNAME is net.Resolver.LookupCNAME.
func (n NetResolver) LookupCNAME(ctx context.Context, host string) (string, error) {
	name, _, err := n.R.LookupCNAME(ctx, host)
	if err != nil {
		return "", NetError(err)
	}
	return name + ".", nil
}
