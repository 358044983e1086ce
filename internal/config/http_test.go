package config

import (
	"errors"
	"strings"
	"testing"
)

// TestHTTPErrors: plain HTTP is refused off loopback unless http.plaintext
// says a proxy does TLS, and bad [http] values are reported by key.
func TestHTTPErrors(t *testing.T) {
	keys := func(c *Config) string {
		var list ErrorList
		if err := c.Validate(); err != nil && !errors.As(err, &list) {
			t.Fatal(err)
		}
		var ks []string
		for _, e := range list {
			ks = append(ks, e.Key)
		}
		return strings.Join(ks, " ")
	}
	c := Default()
	c.Hostname = "mail.example.com"
	c.Listeners = []Listener{{Role: RoleHTTP, Address: "127.0.0.1:8080"}, {Role: RoleHTTP, Address: "[::1]:8081"},
		{Role: RoleHTTP, Address: "localhost:8082"}, {Role: RoleHTTP, Address: ":8083"}, {Role: RoleHTTP, Address: "192.0.2.1:8084"}}
	c.HTTP.MaxRequestSize = 1000
	c.HTTP.RateLimit = 5
	c.HTTP.RateBurst = 0
	if got, want := keys(c), "http.max_request_size http.rate_burst listeners[3].address listeners[4].address"; got != want {
		t.Errorf("keys %q, want %q", got, want)
	}
	c = Default()
	c.Hostname = "mail.example.com"
	c.Listeners = []Listener{{Role: RoleHTTP, Address: ":8080"}}
	c.HTTP.Plaintext = true
	if got := keys(c); got != "" {
		t.Errorf("plaintext behind a proxy: %q", got)
	}
}
