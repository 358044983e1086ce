package config

import "fmt"

// proxy checks [proxy] and that a listener asking for PROXY headers has
// networks to trust them from.
func (v *validator) proxy(p Proxy, ls []Listener) {
	v.prefixes("proxy.trusted_networks", p.TrustedNetworks)
	for i, s := range p.TrustedNetworks {
		if pr, err := parsePrefix(s); err == nil && pr.Bits() == 0 {
			v.add(fmt.Sprintf("proxy.trusted_networks[%d]", i), fmt.Sprintf("%q: every address", s),
				"list only the load balancers: anyone trusted can claim any client address")
		}
	}
	v.duration("proxy.header_timeout", p.HeaderTimeout, false)
	if len(p.TrustedNetworks) > 0 {
		return
	}
	for i, l := range ls {
		if l.ProxyProtocol {
			v.add(fmt.Sprintf("listeners[%d].proxy_protocol", i), "set, but proxy.trusted_networks is empty",
				`list the load balancers' addresses, e.g. [proxy] trusted_networks = ["10.0.0.5"]: a PROXY header is believed only from them`)
		}
	}
}
