// Package clientnet names the network a client address belongs to: its
// /24 (IPv4) or /64 (IPv6, the usual size of one site's subnet). A client
// that controls one address usually controls its neighbours, so the SMTP
// engine's connection limits and the greylist count per network.
package clientnet

import "net/netip"

// Of returns the /24 or /64 that ip belongs to (an IPv4-mapped IPv6
// address counts as IPv4); the invalid zero address, as on pipes, gives
// the zero Prefix: one bucket for all of them.
func Of(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap()
	bits := 24
	if ip.Is6() {
		bits = 64
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return netip.Prefix{}
	}
	return p
}
