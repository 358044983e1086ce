package config

import (
	"fmt"
	"net"
	"net/netip"
)

func (v *validator) http(h HTTP, ls []Listener, haveTLS bool) {
	const p = "http."
	if h.MaxRequestSize < 64<<10 {
		v.add(p+"max_request_size", fmt.Sprintf("%s: below 64KiB", h.MaxRequestSize), `use "72MiB" (a 50MiB message in JSON)`)
	}
	if h.RateLimit < 0 {
		v.add(p+"rate_limit", fmt.Sprintf("%g: negative", h.RateLimit), "use 0 for no limit")
	}
	if h.RateLimit > 0 {
		v.positive(p+"rate_burst", h.RateBurst, "the default is 200")
	}
	v.positive(p+"max_connections", h.MaxConnections, "the default is 1000")
	v.duration(p+"read_timeout", h.ReadTimeout, false)
	v.duration(p+"idle_timeout", h.IdleTimeout, false)
	if haveTLS || h.Plaintext {
		return
	}
	for i, l := range ls {
		if l.Role == RoleHTTP && !LoopbackAddress(l.Address) {
			v.add(fmt.Sprintf("listeners[%d].address", i), fmt.Sprintf("%q: plain HTTP on a non-loopback address", l.Address),
				"configure [tls] for HTTPS, listen on 127.0.0.1, or set http.plaintext = true behind a TLS proxy")
		}
	}
}

// LoopbackAddress reports whether a listener address ("host:port") is on
// a loopback address only ("localhost", 127.0.0.0/8, ::1).
func LoopbackAddress(address string) bool {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
