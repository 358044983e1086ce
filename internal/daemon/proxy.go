package daemon

import (
	"net"

	"github.com/posthorn/posthorn/internal/config"
	"github.com/posthorn/posthorn/internal/proxyproto"
)

// listen binds lc's address. With proxy_protocol set, each connection
// must come from proxy.trusted_networks and start with a PROXY header
// (package proxyproto), before any TLS: the servers then see the
// client's address as RemoteAddr.
func (d *Daemon) listen(lc config.Listener) (net.Listener, error) {
	ln, err := net.Listen("tcp", lc.Address)
	if err != nil || !lc.ProxyProtocol {
		return ln, err
	}
	p := d.cfg.Proxy
	return proxyproto.Listen(ln, proxyproto.Options{
		Trusted:       config.Prefixes(p.TrustedNetworks),
		HeaderTimeout: p.HeaderTimeout.D(),
		Logger:        d.log.With("role", lc.Role),
		Refused:       d.metrics.Conns(lc.Role).Refused,
	}), nil
}
