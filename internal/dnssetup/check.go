package dnssetup

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/dmarc"

	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/spf"
	"github.com/posthorn/posthorn/internal/tlspolicy"
)

// Status is the verdict on one record.
type Status string

const (
	OK      Status = "ok"
	Missing Status = "missing"
	Wrong   Status = "wrong"
	// Error: the lookup failed (timeout, SERVFAIL); nothing is known.
	Error Status = "error"
)

// Result is the verdict on one record.
type Result struct {
	Kind   string
	Name   string
	Status Status
	// Found is what is published (or the lookup error), Want what should
	// be: a zone-file line, or a description.
	Found, Want string
}

// String is the line dns check prints.
func (r Result) String() string {
	s := fmt.Sprintf("%-7s %-12s %s", r.Status, r.Kind, r.Name)
	if r.Found != "" {
		s += ": " + r.Found
	}
	if r.Status != OK && r.Want != "" {
		s += "\n        want: " + r.Want
	}
	return s
}

// SRVResolver is implemented by resolvers that can look up SRV records
// (*dns.Client); with others the SRV records are not checked.
type SRVResolver interface {
	LookupSRV(ctx context.Context, service, proto, name string) ([]dns.SRV, dns.Result, error)
}

// Check looks up the records of p through r and compares them with what
// Expected would publish. Semantics count, not spelling: SPF is evaluated
// for the host's addresses, DKIM keys are compared by key, DMARC,
// MTA-STS and TLS-RPT must parse.
func Check(ctx context.Context, r dns.Resolver, p Params) []Result {
	p = p.withDefaults(time.Now())
	want := map[string]Record{}
	for _, rec := range Expected(p, time.Now()) {
		want[rec.Kind+" "+rec.Name] = rec
	}
	c := checker{ctx: ctx, r: r, p: p, want: want}
	c.mx()
	addrs := c.addresses()
	c.spf(addrs)
	c.dkim()
	c.dmarc()
	c.mtaSTS()
	c.tlsRPT()
	if sr, ok := r.(SRVResolver); ok {
		c.srv(sr)
	}
	return c.out
}

type checker struct {
	ctx  context.Context
	r    dns.Resolver
	p    Params
	want map[string]Record
	out  []Result
}

func (c *checker) add(kind, name string, st Status, found string) {
	w := ""
	if rec, ok := c.want[kind+" "+name]; ok {
		w = rec.Zone()
	}
	c.out = append(c.out, Result{Kind: kind, Name: name, Status: st, Found: found, Want: w})
}

func (c *checker) addWant(kind, name string, st Status, found, want string) {
	c.out = append(c.out, Result{Kind: kind, Name: name, Status: st, Found: found, Want: want})
}

// failed records a lookup error: missing for NXDOMAIN/NODATA, error
// otherwise. It reports whether err was not nil.
func (c *checker) failed(kind, name string, err error) bool {
	if err == nil {
		return false
	}
	if dns.IsNotFound(err) {
		c.add(kind, name, Missing, "")
	} else {
		c.add(kind, name, Error, err.Error())
	}
	return true
}

func (c *checker) mx() {
	d := c.p.Domain
	mxs, _, err := c.r.LookupMX(c.ctx, d)
	if c.failed("MX", d, err) {
		return
	}
	var found []string
	ok := false
	for _, m := range mxs {
		found = append(found, fmt.Sprintf("%d %s", m.Pref, m.Host))
		ok = ok || m.Host == c.p.Hostname
	}
	st := Wrong
	if ok {
		st = OK
	}
	c.add("MX", d, st, strings.Join(found, ", "))
}

// addresses checks the host's A/AAAA records and their reverse names, and
// returns the addresses found.
func (c *checker) addresses() []netip.Addr {
	h := c.p.Hostname
	ips, _, err := c.r.LookupIP(c.ctx, "ip", h)
	if err != nil {
		want := "A and/or AAAA records with this server's public addresses"
		if dns.IsNotFound(err) {
			c.addWant("address", h, Missing, "", want)
		} else {
			c.addWant("address", h, Error, err.Error(), want)
		}
		return nil
	}
	var found []string
	for _, ip := range ips {
		found = append(found, ip.String())
	}
	st := OK
	var missing []string
	for _, ip := range c.p.IPs {
		if !slices.Contains(ips, ip) {
			st = Wrong
			missing = append(missing, ip.String())
		}
	}
	c.addWant("address", h, st, strings.Join(found, ", "), "also "+strings.Join(missing, ", "))
	for _, ip := range ips {
		names, _, err := c.r.LookupAddr(c.ctx, ip)
		want := "PTR " + h + ". (set by whoever runs the address, usually the hosting provider)"
		switch {
		case err != nil && dns.IsNotFound(err):
			c.addWant("reverse", ip.String(), Missing, "", want)
		case err != nil:
			c.addWant("reverse", ip.String(), Error, err.Error(), want)
		case slices.Contains(names, h):
			c.addWant("reverse", ip.String(), OK, strings.Join(names, ", "), "")
		default:
			c.addWant("reverse", ip.String(), Wrong, strings.Join(names, ", "), want)
		}
	}
	return ips
}

// txtWith returns the TXT records of name that start with prefix (case
// insensitive), or records a missing/error result and returns nil, false.
func (c *checker) txtWith(kind, name, prefix string) ([]string, bool) {
	txts, _, err := c.r.LookupTXT(c.ctx, name)
	if c.failed(kind, name, err) {
		return nil, false
	}
	var out []string
	for _, t := range txts {
		if len(t) >= len(prefix) && strings.EqualFold(t[:len(prefix)], prefix) {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		c.add(kind, name, Missing, "")
		return nil, false
	}
	if len(out) > 1 {
		c.add(kind, name, Wrong, fmt.Sprintf("%d records %q (one only)", len(out), out))
		return nil, false
	}
	return out, true
}

// spf checks that the SPF policy authorizes each address of the host to
// send as postmaster@domain (RFC 7208 §2.4).
func (c *checker) spf(addrs []netip.Addr) {
	d := c.p.Domain
	txts, ok := c.txtWith("SPF", d, "v=spf1")
	if !ok {
		return
	}
	if len(addrs) == 0 {
		c.add("SPF", d, Error, txts[0]+" (not evaluated: the host has no address)")
		return
	}
	var bad []string
	for _, ip := range addrs {
		res := spf.CheckMailFrom(c.ctx, c.r, ip, c.p.Hostname, "postmaster@"+d)
		if res.Status != spf.Pass {
			bad = append(bad, fmt.Sprintf("%s: %s", ip, res.Status))
		}
	}
	if len(bad) > 0 {
		c.add("SPF", d, Wrong, txts[0]+" ("+strings.Join(bad, ", ")+")")
		return
	}
	c.add("SPF", d, OK, txts[0])
}

func (c *checker) dkim() {
	if len(c.p.Keys) == 0 {
		c.addWant("DKIM", c.p.Domain, Missing, "no keys here", "posthorn dkim keygen "+c.p.Domain)
		return
	}
	for _, k := range c.p.Keys {
		name := k.Selector + "._domainkey." + k.Domain
		txts, _, err := c.r.LookupTXT(c.ctx, name)
		if c.failed("DKIM", name, err) {
			continue
		}
		st := Wrong
		for _, t := range txts {
			if sameKey(t, k.Record) {
				st = OK
			}
		}
		c.add("DKIM", name, st, strings.Join(txts, " | "))
	}
}

// sameKey compares two DKIM key records by k= and p= (RFC 6376 §3.6.1;
// whitespace inside p= is allowed).
func sameKey(a, b string) bool {
	ta, tb := tags(a), tags(b)
	ka, kb := ta["k"], tb["k"]
	if ka == "" {
		ka = "rsa" // the default (§3.6.1)
	}
	return ka == kb && ta["p"] != "" && ta["p"] == tb["p"]
}

func tags(rec string) map[string]string {
	m := map[string]string{}
	for _, f := range strings.Split(rec, ";") {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		m[strings.TrimSpace(k)] = strings.Join(strings.Fields(v), "")
	}
	return m
}

func (c *checker) dmarc() {
	name := "_dmarc." + c.p.Domain
	txts, ok := c.txtWith("DMARC", name, "v=DMARC1")
	if !ok {
		return
	}
	if _, err := dmarc.Parse(txts[0]); err != nil {
		c.add("DMARC", name, Wrong, txts[0]+" ("+err.Error()+")")
		return
	}
	c.add("DMARC", name, OK, txts[0])
}

func (c *checker) mtaSTS() {
	d := c.p.Domain
	name := "_mta-sts." + d
	if txts, ok := c.txtWith("MTA-STS", name, "v=STSv1"); ok {
		if _, err := tlspolicy.ParseSTSRecord(txts[0]); err != nil {
			c.add("MTA-STS", name, Wrong, txts[0]+" ("+err.Error()+")")
		} else {
			c.add("MTA-STS", name, OK, txts[0])
			c.stsPolicy()
		}
	}
	host := "mta-sts." + d
	want := "an address (or CNAME) of the web server that serves https://" + host + "/.well-known/mta-sts.txt"
	ips, _, err := c.r.LookupIP(c.ctx, "ip", host)
	switch {
	case err == nil:
		var found []string
		for _, ip := range ips {
			found = append(found, ip.String())
		}
		c.addWant("MTA-STS", host, OK, strings.Join(found, ", "), "")
	case dns.IsNotFound(err):
		c.addWant("MTA-STS", host, Missing, "", want)
	default:
		c.addWant("MTA-STS", host, Error, err.Error(), want)
	}
}

// stsPolicy fetches the policy file and checks that it lists the host.
func (c *checker) stsPolicy() {
	if c.p.STS == nil {
		return
	}
	url := "https://mta-sts." + c.p.Domain + "/.well-known/mta-sts.txt"
	want := "a policy listing mx: " + c.p.Hostname + " (see posthorn quickstart)"
	pol, err := c.p.STS.Fetch(c.ctx, c.p.Domain)
	switch {
	case err != nil:
		c.addWant("MTA-STS", url, Wrong, err.Error(), want)
	case pol.Mode == tlspolicy.ModeNone || !pol.Match(c.p.Hostname):
		c.addWant("MTA-STS", url, Wrong, fmt.Sprintf("mode %s, mx %s", pol.Mode, strings.Join(pol.MX, " ")), want)
	default:
		c.addWant("MTA-STS", url, OK, fmt.Sprintf("mode %s, mx %s", pol.Mode, strings.Join(pol.MX, " ")), "")
	}
}

func (c *checker) tlsRPT() {
	name := "_smtp._tls." + c.p.Domain
	txts, ok := c.txtWith("TLS-RPT", name, "v=TLSRPTv1")
	if !ok {
		return
	}
	if !strings.Contains(txts[0], "rua=") {
		c.add("TLS-RPT", name, Wrong, txts[0]+" (no rua=)")
		return
	}
	c.add("TLS-RPT", name, OK, txts[0])
}

func (c *checker) srv(sr SRVResolver) {
	for _, s := range srvRecords {
		name := "_" + s.service + "._tcp." + c.p.Domain
		recs, _, err := sr.LookupSRV(c.ctx, s.service, "tcp", c.p.Domain)
		if c.failed("SRV", name, err) {
			continue
		}
		var found []string
		st := Wrong
		for _, r := range recs {
			found = append(found, fmt.Sprintf("%d %d %d %s", r.Priority, r.Weight, r.Port, r.Target))
			if r.Target == c.p.Hostname && int(r.Port) == s.port {
				st = OK
			}
		}
		c.add("SRV", name, st, strings.Join(found, ", "))
	}
}
