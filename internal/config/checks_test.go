package config

import (
	"errors"
	"strings"
	"testing"
)

// TestChecksAndDNSErrors: every bad [checks], [dns] and new limits value
// is reported under its key.
func TestChecksAndDNSErrors(t *testing.T) {
	c := Default()
	c.Hostname = "mail.example.com"
	c.Checks.TrustedNetworks = []string{"10.0.0.0/8", "not-a-net"}
	c.Checks.TrustedForwarders = []string{"192.0.2.1/33"}
	c.Checks.QuarantineInsteadOfReject = []string{"1.2.3.4"}
	c.Checks.TrustedARCSealers = []string{"lists"}
	c.Checks.DNSBL = []string{"zen"}
	c.Checks.DNSBLAction = "drop"
	c.Checks.GreylistAllow = []string{"2001:db8::/129"}
	c.DNS.Servers = []string{"127.0.0.1:5353", "::1", "dns.example:53", "127.0.0.1:0"}
	c.DNS.CacheSize = -1
	c.Limits.SMTP.MaxConnectionsPerNet = 0
	c.Limits.SMTP.ConnectionRatePerNet = -5
	var list ErrorList
	if !errors.As(c.Validate(), &list) {
		t.Fatal("no ErrorList")
	}
	var keys []string
	for _, e := range list {
		keys = append(keys, e.Key)
	}
	want := []string{"limits.smtp.max_connections_per_net", "limits.smtp.connection_rate_per_net",
		"checks.trusted_networks[1]", "checks.trusted_forwarders[0]", "checks.quarantine_instead_of_reject[0]", "checks.trusted_arc_sealers[0]",
		"checks.dnsbl[0]", "checks.dnsbl_action", "checks.greylist_allow[0]", "dns.servers[2]", "dns.servers[3]", "dns.cache_size"}
	if strings.Join(keys, " ") != strings.Join(want, " ") {
		t.Errorf("keys\n%v\nwant\n%v", keys, want)
	}
	if got := (DNS{Servers: []string{"127.0.0.1:5353", "::1"}}).ServerAddrs(); strings.Join(got, " ") != "127.0.0.1:5353 [::1]:53" {
		t.Errorf("ServerAddrs = %v", got)
	}
	if got := Prefixes([]string{"192.0.2.7/24", "::1"}); len(got) != 2 || got[0].String() != "192.0.2.0/24" || got[1].String() != "::1/128" {
		t.Errorf("Prefixes = %v", got)
	}
}
