package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/posthorn/posthorn/internal/smtp"
)

func (v *validator) delivery(d Delivery) {
	const p = "delivery."
	if d.SourceAddress != "" {
		if _, err := netip.ParseAddr(d.SourceAddress); err != nil {
			v.add(p+"source_address", fmt.Sprintf("%q: not an IP address", d.SourceAddress), `write an address such as "192.0.2.25", or "" to let the system choose`)
		}
	}
	if d.Port < 1 || d.Port > 65535 {
		v.add(p+"port", fmt.Sprintf("%d: out of range 1-65535", d.Port), "mail goes to port 25")
	}
	v.duration(p+"retry_min", d.RetryMin, false)
	v.duration(p+"retry_max", d.RetryMax, false)
	if d.RetryMax.D() < d.RetryMin.D() {
		v.add(p+"retry_max", fmt.Sprintf("%s: shorter than retry_min (%s)", d.RetryMax, d.RetryMin), "raise it or lower retry_min")
	}
	v.duration(p+"give_up", d.GiveUp, false)
	v.duration(p+"delay_warning", d.DelayWarning, true)
	v.positive(p+"max_per_destination", d.MaxPerDestination, "the default is 20")
	v.positive(p+"max_in_flight", d.MaxInFlight, "the default is 200")
	v.duration(p+"idle_timeout", d.IdleTimeout, false)
	v.duration(p+"attempt_timeout", d.AttemptTimeout, false)
	if d.AttemptTimeout.D() > 0 && d.AttemptTimeout.D() < 10*time.Second {
		v.add(p+"attempt_timeout", fmt.Sprintf("%s: too short for a delivery", d.AttemptTimeout), `use "10m"`)
	}
	v.duration(p+"lease", d.Lease, false)
	if d.Lease.D() > 0 && d.Lease.D() < time.Second {
		v.add(p+"lease", fmt.Sprintf("%s: too short to renew", d.Lease), `use "1m"`)
	}
	seen := map[string]int{}
	for i, r := range d.Routes {
		key := fmt.Sprintf("%sroutes[%d]", p, i)
		dom := r.Domain
		if dom != "*" {
			canon, err := smtp.ParseDomain(dom)
			if err != nil || dom == "" {
				v.add(key+".domain", fmt.Sprintf("%q: not a domain", dom), `write a domain such as "example.com", or "*" for every domain`)
				continue
			}
			dom = canon
		}
		if j, dup := seen[dom]; dup {
			v.add(key+".domain", fmt.Sprintf("%q: already routed by routes[%d]", r.Domain, j), "give each domain one route")
		}
		seen[dom] = i
		host, port := r.Host, "25"
		if h, pt, err := net.SplitHostPort(r.Host); err == nil {
			host, port = h, pt
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || host == "" {
			v.add(key+".host", fmt.Sprintf("%q: not host:port", r.Host), `write "smtp.example.net:587" or "192.0.2.7:25"`)
		} else if _, err := netip.ParseAddr(host); err != nil {
			if _, err := smtp.ParseDomain(host); err != nil {
				v.add(key+".host", fmt.Sprintf("%q: host is neither an IP address nor a name", r.Host), `write "smtp.example.net:587" or "192.0.2.7:25"`)
			}
		}
		if (r.Username == "") != (r.Password == "") {
			v.add(key+".password", "username and password go together", "set both, or neither")
		}
		if r.CAFile != "" {
			v.readable(key+".ca_file", r.CAFile)
		}
	}
}
