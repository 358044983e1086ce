package config

import (
	"errors"
	"testing"
)

// TestMetricsNetworks: /metrics is for loopback by default, and a bad
// network is reported under its key.
func TestMetricsNetworks(t *testing.T) {
	c := Default()
	c.Hostname = "mail.example.com"
	if got := Prefixes(c.Metrics.AllowedNetworks); len(got) != 2 || got[0].String() != "127.0.0.0/8" || got[1].String() != "::1/128" {
		t.Errorf("default allowed_networks = %v, want loopback only", got)
	}
	c.Metrics.AllowedNetworks = []string{"10.0.0.0/8", "prometheus.internal"}
	var list ErrorList
	if !errors.As(c.Validate(), &list) || len(list) != 1 || list[0].Key != "metrics.allowed_networks[1]" {
		t.Errorf("Validate = %v, want one error for metrics.allowed_networks[1]", list)
	}
}
