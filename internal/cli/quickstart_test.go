package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/posthorn/posthorn/internal/certs"
	"github.com/posthorn/posthorn/internal/certs/certstest"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
)

// zoneLines picks the zone-file lines quickstart printed.
var zoneLine = regexp.MustCompile(`(?m)^\S+\. 3600 IN .*$`)

func TestQuickstartAndDNSCheck(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "etc", "posthorn.toml")
	data := filepath.Join(dir, "data")
	code, out, errs := runCLI(t, "", "quickstart", "-config", cfg, "-data-dir", data, "-ip", "127.0.0.1", "Admin@Example.com")
	if code != 0 {
		t.Fatalf("quickstart: %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"wrote " + cfg, "added account admin@example.com\npassword: ", "added alias postmaster@example.com -> admin@example.com",
		"example.com. 3600 IN MX 10 mail.example.com.",
		"mail.example.com. 3600 IN A 127.0.0.1",
		`example.com. 3600 IN TXT "v=spf1 mx -all"`,
		`_dmarc.example.com. 3600 IN TXT "v=DMARC1; p=quarantine; rua=mailto:admin@example.com"`,
		`_mta-sts.example.com. 3600 IN TXT "v=STSv1; id=`,
		`_smtp._tls.example.com. 3600 IN TXT "v=TLSRPTv1; rua=mailto:admin@example.com"`,
		"_submissions._tcp.example.com. 3600 IN SRV 0 1 465 mail.example.com.",
		"_imaps._tcp.example.com. 3600 IN SRV 0 1 993 mail.example.com.",
		"_pop3._tcp.example.com. 3600 IN SRV 1 1 110 mail.example.com.",
		"mode: testing", "mx: mail.example.com", "max_age: 604800",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("quickstart output lacks %q:\n%s", want, out)
		}
	}
	var xmlText strings.Builder
	for _, l := range regexp.MustCompile(`(?m)^      ( *<.*)$`).FindAllStringSubmatch(out, -1) {
		xmlText.WriteString(l[1] + "\n")
	}
	var ac struct {
		Servers []struct {
			Type     string `xml:"type,attr"`
			Hostname string `xml:"hostname"`
			Port     int    `xml:"port"`
		} `xml:"emailProvider>incomingServer"`
		Out struct {
			Hostname string `xml:"hostname"`
			Port     int    `xml:"port"`
		} `xml:"emailProvider>outgoingServer"`
	}
	if err := xml.Unmarshal([]byte(xmlText.String()), &ac); err != nil || len(ac.Servers) != 2 ||
		ac.Servers[0].Hostname != "mail.example.com" || ac.Servers[0].Port != 993 || ac.Out.Port != 465 {
		t.Errorf("autoconfig XML %+v, %v:\n%s", ac, err, xmlText.String())
	}
	if n := strings.Count(out, "._domainkey.example.com. 3600 IN TXT \"v=DKIM1; k="); n != 2 {
		t.Errorf("%d DKIM records, want 2 (RSA and Ed25519)", n)
	}
	if fi, err := os.Stat(cfg); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("config file: %v, %v", fi, err)
	}
	text, _ := os.ReadFile(cfg)
	for _, port := range []string{":25", ":587", ":465", ":143", ":993", ":110", ":995"} {
		if !strings.Contains(string(text), `address = "`+port+`"`) {
			t.Errorf("config lacks a listener on %s", port)
		}
	}
	if !strings.Contains(string(text), "[tls.acme]\nhostnames = [\"mail.example.com\"]") {
		t.Errorf("config lacks ACME:\n%s", text)
	}
	if code, out, errs := runCLI(t, "", "config", "check", cfg); code != 0 {
		t.Errorf("config check of the written file: %d %s%s", code, out, errs)
	}
	if code, _, errs := runCLI(t, "", "quickstart", "-config", cfg, "-data-dir", data, "admin@example.com"); code != 1 || !strings.Contains(errs, "exists") {
		t.Errorf("quickstart over an existing config: %d %q", code, errs)
	}
	code, out2, _ := runCLI(t, "", "quickstart", "-config", cfg, "-data-dir", data, "-force", "-ip", "127.0.0.1", "admin@example.com")
	if code != 0 || !strings.Contains(out2, "account admin@example.com exists") || strings.Contains(out2, "password:") || strings.Contains(out2, "made ") {
		t.Errorf("quickstart -force again: %d\n%s", code, out2)
	}
	if _, out, _ := runCLI(t, "", "account", "list", "-data-dir", data); !strings.Contains(out, "admin@example.com") {
		t.Errorf("account list: %q", out)
	}

	// Publish exactly what quickstart printed, plus the policy host and
	// the reverse name, and dns check finds everything in order.
	records := strings.Join(zoneLine.FindAllString(out2, -1), "\n")
	zone := dnstest.Zone{Origin: "example.com", Records: records + "\nmta-sts A 127.0.0.1\n"}
	ptr := dnstest.Zone{Origin: "0.0.127.in-addr.arpa", Records: "1 PTR mail.example.com.\n"}
	srv := dnstest.Start(t, zone, ptr)
	// The policy file, served as quickstart printed it, over HTTPS on
	// loopback with a certificate for mta-sts.example.com.
	var policy atomic.Value
	var file strings.Builder
	for _, l := range regexp.MustCompile(`(?m)^    (\S.*)$`).FindAllStringSubmatch(out2, -1) {
		file.WriteString(l[1] + "\n")
	}
	policy.Store(file.String())
	files := certstest.Dev(t, filepath.Join(dir, "tls"), []string{"mta-sts.example.com"})
	pair, err := certs.Load(files.CertFile, files.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	https := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, policy.Load().(string))
	}))
	https.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	https.StartTLS()
	t.Cleanup(https.Close)
	ca, _ := os.ReadFile(files.CAFile)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	hooks := func(e *Env) {
		e.testRoots = roots
		e.testDial = func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, https.Listener.Addr().String())
		}
	}
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("\n[dns]\nservers = [\"" + srv.Addr() + "\"]\n")
	f.Close()
	code, out, errs = runCLIWith(t, hooks, "", "dns", "check", "-config", cfg, "example.com")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 17 {
		t.Fatalf("dns check: %d, %d lines\n%s%s", code, len(lines), out, errs)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "ok ") {
			t.Errorf("dns check line %q", l)
		}
	}

	// Break some: a DKIM record gone, the MX elsewhere, SPF refusing us,
	// no reverse name.
	var kept []string
	for _, l := range strings.Split(records, "\n") {
		switch {
		case strings.Contains(l, "k=ed25519"), strings.Contains(l, " MX "), strings.Contains(l, "v=spf1"):
			continue
		}
		kept = append(kept, l)
	}
	srv.SetZone(t, dnstest.Zone{Origin: "example.com", Records: strings.Join(kept, "\n") +
		"\n@ MX 10 mx.elsewhere.example.\n@ TXT \"v=spf1 ip4:192.0.2.1 -all\"\nmta-sts A 127.0.0.1\n"})
	srv.SetZone(t, dnstest.Zone{Origin: "0.0.127.in-addr.arpa", Records: "2 PTR x.example.\n"})
	policy.Store("version: STSv1\nmode: enforce\nmx: mx.elsewhere.example\nmax_age: 86400\n")
	code, out, _ = runCLIWith(t, hooks, "", "dns", "check", "-config", cfg, "example.com")
	if code != 1 {
		t.Errorf("dns check with broken records: exit %d", code)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^wrong +MX +example.com: 10 mx.elsewhere.example\n +want: example.com. 3600 IN MX 10 mail.example.com.$`),
		regexp.MustCompile(`(?m)^wrong +SPF +example.com: v=spf1 ip4:192.0.2.1 -all \(127.0.0.1: fail\)$`),
		regexp.MustCompile(`(?m)^missing +DKIM +ed25519-\d{8}._domainkey.example.com\n +want: ed25519-\d{8}._domainkey.example.com. 3600 IN TXT "v=DKIM1; k=ed25519; p=`),
		regexp.MustCompile(`(?m)^ok +DKIM +rsa-\d{8}._domainkey.example.com`),
		regexp.MustCompile(`(?m)^missing +reverse +127.0.0.1$`),
		regexp.MustCompile(`(?m)^ok +MTA-STS +_mta-sts.example.com: v=STSv1; id=`),
		regexp.MustCompile(`(?m)^wrong +MTA-STS +https://mta-sts.example.com/.well-known/mta-sts.txt: mode enforce, mx mx.elsewhere.example$`),
	} {
		if !want.MatchString(out) {
			t.Errorf("dns check output lacks %s:\n%s", want, out)
		}
	}
}
