package daemon

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/posthorn/posthorn/internal/config"
	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/greylist"
	"github.com/posthorn/posthorn/internal/mx"
)

// NewResolver builds the one DNS client every part of the daemon shares
// (receiving checks, delivery), so they share its cache: [dns] servers,
// or those of /etc/resolv.conf.
func NewResolver(c config.DNS) (*dns.Client, error) {
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

// mxChecks builds the receiving checks of [checks]; nil when disabled.
// The greylist is opened once, shared by every smtp listener: in the
// store when it shares greylisting state between nodes (PostgreSQL),
// else in DATA/greylist.
func (d *Daemon) mxChecks() (*mx.Checks, error) {
	c := d.cfg.Checks
	if !c.Enabled {
		return nil, nil
	}
	if c.Greylisting && d.greylist == nil {
		opts := greylist.Options{Path: filepath.Join(d.cfg.DataDir, "greylist"), Delay: c.GreylistDelay.D(), Logger: d.log}
		if shared, ok := d.store.(greylist.Shared); ok {
			opts.Path, opts.Shared = "", shared
		}
		gl, err := greylist.Open(opts)
		if err != nil {
			return nil, err
		}
		d.greylist = gl
	}
	return &mx.Checks{
		Resolver:                  d.resolver,
		EnforceDMARC:              c.EnforceDMARC,
		TrustedNetworks:           config.Prefixes(c.TrustedNetworks),
		TrustedForwarders:         config.Prefixes(c.TrustedForwarders),
		TrustedSealers:            lower(c.TrustedARCSealers),
		QuarantineInsteadOfReject: lower(c.QuarantineInsteadOfReject),
		DNSBL:                     c.DNSBL,
		DNSBLReject:               c.DNSBLAction == "reject",
		Timeout:                   c.Timeout.D(),
		Greylist:                  d.greylist,
		GreylistAllow:             config.Prefixes(c.GreylistAllow),
		GreylistAllowDomains:      lower(c.GreylistAllowDomains),
	}, nil
}

func lower(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = strings.ToLower(strings.TrimSuffix(s, "."))
	}
	return out
}
