package daemon

import (
	"fmt"

	"github.com/posthorn/posthorn/internal/config"
	"github.com/posthorn/posthorn/internal/dns"
)

// newResolver builds the one DNS client every part of the daemon shares
// (receiving checks, delivery), so they share its cache: [dns] servers,
// or those of /etc/resolv.conf.
func newResolver(c config.DNS) (*dns.Client, error) {
	servers := c.ServerAddrs()
	if len(servers) == 0 {
		var err error
		servers, err = dns.SystemServers("/etc/resolv.conf")
		if err != nil {
			return nil, fmt.Errorf("dns: no servers in [dns] and %v; set dns.servers", err)
		}
	}
	cacheSize := c.CacheSize
	if cacheSize == 0 {
		cacheSize = -1 // dns.Config: negative disables
	}
	return dns.New(dns.Config{Servers: servers, TrustAD: c.TrustAD, Timeout: c.Timeout.D(), CacheSize: cacheSize})
}
