// Package dnssetup knows the DNS records a mail domain served by posthorn
// needs: Expected lists them for `posthorn quickstart` to print, Check
// looks up what is published and says, one line per record, whether it
// is ok, missing or wrong.
//
// The records: MX (RFC 5321 §5.1), the host's addresses and their reverse
// names, SPF (RFC 7208), one DKIM key record per selector (RFC 6376
// §3.6.2), DMARC (RFC 7489), MTA-STS (RFC 8461 §3.1) and TLS-RPT (RFC
// 8460), and SRV records for mail clients (RFC 6186, RFC 8314 §5.1).
// posthorn does not serve the MTA-STS policy file or autoconfig XML
// itself: STSPolicyFile gives the file to host at
// https://mta-sts.DOMAIN/.well-known/mta-sts.txt on any web server, and
// AutoconfigXML the one for https://autoconfig.DOMAIN/mail/config-v1.1.xml.
package dnssetup

import (
	"context"
	"fmt"
	"html"
	"net/netip"
	"strings"
	"time"

	"github.com/posthorn/posthorn/internal/dkim"
	"github.com/posthorn/posthorn/internal/tlspolicy"
)

// Params describe a domain's setup.
type Params struct {
	Domain   string // the mail domain, e.g. example.com
	Hostname string // this server, e.g. mail.example.com
	// Admin receives DMARC and TLS-RPT reports.
	Admin string
	// Keys are the domain's DKIM keys.
	Keys []dkim.KeyInfo
	// IPs are the server's public addresses, when known; without them the
	// address records are left for the operator to fill in.
	IPs []netip.Addr
	// STSID is the id of the MTA-STS record, changed whenever the policy
	// changes (RFC 8461 §3.1). Default: the time of Expected, to the second.
	STSID string
	// STSMode is the MTA-STS policy mode; default "testing", to be raised
	// to "enforce" once TLS reports show no failures.
	STSMode string
	// STS, when set, fetches the MTA-STS policy file for Check
	// (*tlspolicy.Policy); nil leaves the file unchecked.
	STS interface {
		Fetch(ctx context.Context, domain string) (*tlspolicy.STSPolicy, error)
	}
}

// Record is one DNS record to publish.
type Record struct {
	Kind  string // what it is for: "MX", "SPF", "DKIM", ...
	Name  string // owner name, without the trailing dot
	Type  string // "MX", "TXT", "A", "SRV", ...
	Value string // zone-file RDATA, e.g. `10 mail.example.com.` or `"v=spf1 mx -all"`
}

// Zone returns the record as a zone-file line.
func (r Record) Zone() string {
	return fmt.Sprintf("%s. 3600 IN %s %s", r.Name, r.Type, r.Value)
}

// srvRecords are the client services of RFC 6186 and RFC 8314: implicit
// TLS first (priority 0), STARTTLS after.
var srvRecords = []struct {
	service  string
	priority int
	port     int
}{
	{"submissions", 0, 465},
	{"submission", 1, 587},
	{"imaps", 0, 993},
	{"imap", 1, 143},
	{"pop3s", 0, 995},
	{"pop3", 1, 110},
}

func (p Params) withDefaults(now time.Time) Params {
	if p.STSID == "" {
		p.STSID = now.UTC().Format("20060102T150405")
	}
	if p.STSMode == "" {
		p.STSMode = "testing"
	}
	return p
}

// SPFRecord is the SPF policy published: the domain's MX hosts may send,
// nothing else (RFC 7208 §5.4, §5.1).
const SPFRecord = "v=spf1 mx -all"

// Expected returns the records to publish for p, in the order a zone file
// would list them.
func Expected(p Params, now time.Time) []Record {
	p = p.withDefaults(now)
	d, h := p.Domain, p.Hostname
	recs := []Record{{"MX", d, "MX", "10 " + h + "."}}
	for _, ip := range p.IPs {
		typ := "A"
		if ip.Is6() {
			typ = "AAAA"
		}
		recs = append(recs, Record{"address", h, typ, ip.String()})
	}
	recs = append(recs, Record{"SPF", d, "TXT", dkim.QuoteTXT(SPFRecord)})
	for _, k := range p.Keys {
		recs = append(recs, Record{"DKIM", dkim.RecordName(k.Selector, k.Domain), "TXT", dkim.QuoteTXT(k.Record)})
	}
	recs = append(recs,
		Record{"DMARC", "_dmarc." + d, "TXT", dkim.QuoteTXT("v=DMARC1; p=quarantine; rua=mailto:" + p.Admin)},
		Record{"MTA-STS", "_mta-sts." + d, "TXT", dkim.QuoteTXT("v=STSv1; id=" + p.STSID)},
		Record{"TLS-RPT", "_smtp._tls." + d, "TXT", dkim.QuoteTXT("v=TLSRPTv1; rua=mailto:" + p.Admin)},
	)
	for _, s := range srvRecords {
		recs = append(recs, Record{"SRV", "_" + s.service + "._tcp." + d, "SRV", fmt.Sprintf("%d 1 %d %s.", s.priority, s.port, h)})
	}
	return recs
}

// STSPolicyFile is the MTA-STS policy (RFC 8461 §3.2) to serve at
// https://mta-sts.DOMAIN/.well-known/mta-sts.txt as text/plain: this
// host is the only MX; max_age one week.
func STSPolicyFile(p Params) string {
	p = p.withDefaults(time.Time{})
	return "version: STSv1\r\nmode: " + p.STSMode + "\r\nmx: " + p.Hostname + "\r\nmax_age: 604800\r\n"
}

// AutoconfigXML is the Thunderbird autoconfiguration file (also read by
// other clients) to serve at https://autoconfig.DOMAIN/mail/config-v1.1.xml:
// IMAP, POP3 and submission on this host with implicit TLS, the full
// address as the user name. posthorn does not serve it itself.
func AutoconfigXML(p Params) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="%[1]s">
    <domain>%[1]s</domain>
    <displayName>%[1]s</displayName>
`, html.EscapeString(p.Domain))
	for _, s := range []struct {
		dir, typ string
		port     int
	}{
		{"incomingServer", "imap", 993}, {"incomingServer", "pop3", 995}, {"outgoingServer", "smtp", 465},
	} {
		fmt.Fprintf(&b, `    <%[1]s type="%[2]s">
      <hostname>%[3]s</hostname>
      <port>%[4]d</port>
      <socketType>SSL</socketType>
      <authentication>password-cleartext</authentication>
      <username>%%EMAILADDRESS%%</username>
    </%[1]s>
`, s.dir, s.typ, html.EscapeString(p.Hostname), s.port)
	}
	b.WriteString("  </emailProvider>\n</clientConfig>\n")
	return b.String()
}
