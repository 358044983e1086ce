package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/posthorn/posthorn/internal/smtp"
)

// Validate checks c as a whole and returns an ErrorList naming the key of
// every problem, or nil. It reads the TLS files to check they load as a key
// pair; it does not bind addresses or create data_dir.
func (c *Config) Validate() error {
	v := &validator{}
	v.hostname(c.Hostname)
	v.node(c.Node)
	v.domains(c.Domains)
	if c.DataDir == "" {
		v.add("data_dir", "empty", `set data_dir = "/var/lib/posthorn"`)
	}
	v.separator(c.SubaddressSeparator)
	v.store(c.Store)
	v.listeners(c.Listeners, c.TLS.Enabled())
	v.tls(c.TLS)
	v.tlsMore(c.TLS)
	v.smtpLimits(c.Limits.SMTP)
	v.pop3Limits(c.Limits.POP3)
	v.imapLimits(c.Limits.IMAP)
	v.auth(c.Auth)
	v.prefixes("metrics.allowed_networks", c.Metrics.AllowedNetworks)
	v.checks(c.Checks)
	v.dns(c.DNS)
	v.delivery(c.Delivery)
	v.webhooks(c.Webhooks)
	v.sendmail(c.Sendmail)
	v.http(c.HTTP, c.Listeners, c.TLS.Enabled())
	v.proxy(c.Proxy, c.Listeners)
	v.log(c.Log)
	return v.errs.err()
}

type validator struct {
	errs ErrorList
}

func (v *validator) add(key, msg, hint string) {
	v.errs = append(v.errs, &Error{Key: key, Msg: msg, Hint: hint})
}

// node checks the node name: printable ASCII, no space, 1-64 characters.
func (v *validator) node(n string) {
	bad := n == "" || len(n) > 64 || strings.ContainsFunc(n, func(r rune) bool { return r <= ' ' || r > '~' })
	if bad {
		v.add("node", fmt.Sprintf("%q: not a node name", n), `set node = "node-1": 1-64 printable ASCII characters, no spaces`)
	}
}

func (v *validator) hostname(h string) {
	const hint = `set hostname = "mail.example.com", the name this server's IP addresses resolve back to`
	if h == "" {
		v.add("hostname", "empty", hint)
		return
	}
	if err := checkFQDN(h); err != nil {
		v.add("hostname", fmt.Sprintf("%q: %v", h, err), hint)
	}
}

func (v *validator) domains(domains []string) {
	seen := map[string]int{}
	for i, d := range domains {
		key := fmt.Sprintf("domains[%d]", i)
		if err := checkFQDN(d); err != nil {
			v.add(key, fmt.Sprintf("%q: %v", d, err), `write a domain name such as "example.com"`)
			continue
		}
		canon, _ := smtp.ParseDomain(d)
		if j, ok := seen[canon]; ok {
			v.add(key, fmt.Sprintf("%q: duplicate of domains[%d]", d, j), "list each domain once")
			continue
		}
		seen[canon] = i
	}
}

// checkFQDN accepts a domain name of at least two labels whose last label
// is not numeric (so not an IP address).
func checkFQDN(name string) error {
	canon, err := smtp.ParseDomain(name)
	if err != nil {
		return errors.New("not a valid domain name")
	}
	labels := strings.Split(canon, ".")
	if len(labels) < 2 {
		return errors.New("not a fully qualified domain name")
	}
	if _, err := strconv.Atoi(labels[len(labels)-1]); err == nil {
		return errors.New("an IP address, not a domain name")
	}
	return nil
}

func (v *validator) separator(sep string) {
	if sep == "" {
		return
	}
	r, size := utf8.DecodeRuneInString(sep)
	switch {
	case size != len(sep):
		v.add("subaddress_separator", fmt.Sprintf("%q: more than one character", sep), `use one character such as "+" or "-", or "" to disable`)
	case r == '@' || r == '"' || r == '.' || unicode.IsSpace(r) || !unicode.IsPrint(r):
		v.add("subaddress_separator", fmt.Sprintf("%q: not usable in a local part", sep), `use "+" or "-", or "" to disable`)
	}
}

func (v *validator) listeners(ls []Listener, haveTLS bool) {
	if len(ls) == 0 {
		v.add("listeners", "no listeners", `add a [[listeners]] table with role = "smtp" and address = ":25"`)
		return
	}
	seen := map[string]int{}
	for i, l := range ls {
		key := fmt.Sprintf("listeners[%d]", i)
		switch {
		case l.Role == "":
			v.add(key+".role", "missing", "set role to one of "+roleList())
		case !validRole(l.Role):
			v.add(key+".role", fmt.Sprintf("%q: unknown role", l.Role), "use one of "+roleList())
		case l.ImplicitTLS() && !haveTLS:
			v.add(key+".role", fmt.Sprintf("%q needs a certificate", l.Role), "set tls.cert_file and tls.key_file")
		}
		addr, ok := v.address(key+".address", l)
		if !ok || strings.HasSuffix(addr, ":0") {
			continue
		}
		if j, dup := seen[addr]; dup {
			v.add(key+".address", fmt.Sprintf("%q: already used by listeners[%d]", l.Address, j), "give each listener its own host:port")
			continue
		}
		seen[addr] = i
	}
}

// address checks a listener's host:port and returns it in a form that is
// equal for equal addresses.
func (v *validator) address(key string, l Listener) (string, bool) {
	port := l.DefaultPort()
	if port == 0 {
		port = 25
	}
	hint := fmt.Sprintf(`use host:port, e.g. "0.0.0.0:%d" or ":%d"`, port, port)
	if l.Address == "" {
		v.add(key, "missing", hint)
		return "", false
	}
	host, p, err := net.SplitHostPort(l.Address)
	if err != nil {
		v.add(key, fmt.Sprintf("%q: not host:port", l.Address), hint)
		return "", false
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		v.add(key, fmt.Sprintf("%q: port %q is not a number", l.Address, p), hint)
		return "", false
	}
	if n < 0 || n > 65535 {
		v.add(key, fmt.Sprintf("%q: port out of range 1-65535", l.Address), hint)
		return "", false
	}
	if ip := net.ParseIP(host); ip != nil {
		host = ip.String()
		if ip.IsUnspecified() {
			host = "" // ":25", "0.0.0.0:25" and "[::]:25" clash on a dual-stack host
		}
	} else if host != "" {
		if _, err := smtp.ParseDomain(host); err != nil {
			v.add(key, fmt.Sprintf("%q: host %q is neither an IP address nor a name", l.Address, host), hint)
			return "", false
		}
		host = strings.ToLower(host)
	}
	return net.JoinHostPort(host, strconv.Itoa(n)), true
}

func roleList() string {
	var s []string
	for _, r := range Roles() {
		s = append(s, strconv.Quote(r))
	}
	return strings.Join(s, ", ")
}

func (v *validator) tls(t TLS) {
	if _, ok := tlsVersions[t.MinVersion]; !ok {
		msg := fmt.Sprintf("%q: unknown TLS version", t.MinVersion)
		if t.MinVersion == "1.0" || t.MinVersion == "1.1" {
			msg = fmt.Sprintf("%q: TLS older than 1.2 is insecure and not supported (RFC 8996)", t.MinVersion)
		}
		v.add("tls.min_version", msg, `use "1.2" or "1.3"`)
	}
	switch {
	case t.CertFile == "" && t.KeyFile == "":
		return
	case t.CertFile == "":
		v.add("tls.cert_file", "missing while tls.key_file is set", "set both cert_file and key_file, or neither")
		return
	case t.KeyFile == "":
		v.add("tls.key_file", "missing while tls.cert_file is set", "set both cert_file and key_file, or neither")
		return
	}
	ok := v.readable("tls.cert_file", t.CertFile)
	ok = v.readable("tls.key_file", t.KeyFile) && ok
	if !ok {
		return
	}
	if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
		v.add("tls.cert_file", fmt.Sprintf("%q with key_file %q: %v", t.CertFile, t.KeyFile, err),
			"cert_file must hold the PEM certificate chain and key_file its PEM private key")
	}
}

// tlsMore checks [[tls.certificates]] and [tls.acme].
func (v *validator) tlsMore(t TLS) {
	for i, c := range t.Certificates {
		key := fmt.Sprintf("tls.certificates[%d]", i)
		if c.CertFile == "" || c.KeyFile == "" {
			v.add(key, "needs cert_file and key_file", "set both, or remove the table")
			continue
		}
		if !v.readable(key+".cert_file", c.CertFile) || !v.readable(key+".key_file", c.KeyFile) {
			continue
		}
		if _, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile); err != nil {
			v.add(key+".cert_file", fmt.Sprintf("%q with key_file %q: %v", c.CertFile, c.KeyFile, err),
				"cert_file must hold the PEM certificate chain and key_file its PEM private key")
		}
	}
	if len(t.Certificates) > 0 && t.CertFile == "" {
		v.add("tls.certificates", "set without tls.cert_file", "set cert_file and key_file for clients that name no host")
	}
	a := t.ACME
	for i, h := range a.Hostnames {
		if err := checkFQDN(h); err != nil {
			v.add(fmt.Sprintf("tls.acme.hostnames[%d]", i), fmt.Sprintf("%q: %v", h, err), `write a host name such as "mail.example.com"`)
		}
	}
	if len(a.Hostnames) == 0 {
		return
	}
	if !strings.HasPrefix(a.DirectoryURL, "https://") {
		v.add("tls.acme.directory_url", fmt.Sprintf("%q: not an https:// URL", a.DirectoryURL), "use the authority's ACME directory URL")
	}
	if a.CAFile != "" {
		v.readable("tls.acme.ca_file", a.CAFile)
	}
	if a.TLSAddress == "" && a.HTTPAddress == "" {
		v.add("tls.acme", "tls_address and http_address are both empty", `the authority must reach one of them: set tls_address = ":443"`)
	}
}

// readable checks that path is a regular file we can open. Stat comes
// first: opening a FIFO blocks, and /dev/zero would never finish loading.
func (v *validator) readable(key, path string) bool {
	fi, err := os.Stat(path)
	if err == nil && !fi.Mode().IsRegular() {
		v.add(key, fmt.Sprintf("%q: not a regular file", path), "point it at a PEM file")
		return false
	}
	var f *os.File
	if err == nil {
		f, err = os.Open(path)
	}
	if err != nil {
		hint := "check the path and the daemon's permissions"
		if errors.Is(err, fs.ErrNotExist) {
			hint = "check the path; a relative path is relative to the daemon's working directory"
		}
		v.add(key, fmt.Sprintf("%q: %v", path, unwrapPath(err)), hint)
		return false
	}
	f.Close()
	return true
}

// unwrapPath drops the "open <path>:" prefix the message already carries.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (v *validator) smtpLimits(l SMTPLimits) {
	const p = "limits.smtp."
	if l.MaxLineLength < 1000 || l.MaxLineLength > 1<<20 {
		v.add(p+"max_line_length", fmt.Sprintf("%d: out of range 1000-1048576", l.MaxLineLength),
			"RFC 5321 requires at least 1000 (text lines); the default is 4096")
	}
	if l.MaxMessageSize < 64<<10 {
		v.add(p+"max_message_size", fmt.Sprintf("%s: below the RFC 5321 minimum of 64KiB", l.MaxMessageSize),
			`use a size such as "50MiB"`)
	}
	v.positive(p+"max_recipients", l.MaxRecipients, "RFC 5321 asks for at least 100")
	v.positive(p+"max_connections", l.MaxConnections, "the default is 500")
	v.positive(p+"max_connections_per_ip", l.MaxConnectionsPerIP, "the default is 50")
	if l.MaxConnections > 0 && l.MaxConnectionsPerIP > l.MaxConnections {
		v.add(p+"max_connections_per_ip", fmt.Sprintf("%d: more than max_connections (%d)", l.MaxConnectionsPerIP, l.MaxConnections),
			"lower it or raise max_connections")
	}
	v.positive(p+"max_connections_per_net", l.MaxConnectionsPerNet, "the default is 100")
	for key, n := range map[string]int{"connection_rate_per_ip": l.ConnectionRatePerIP, "connection_rate_per_net": l.ConnectionRatePerNet} {
		if n < 0 {
			v.add(p+key, fmt.Sprintf("%d: negative", n), "use 0 for no limit, or connections per minute such as 60")
		}
	}
	v.positive(p+"max_errors", l.MaxErrors, "the default is 10")
	v.duration(p+"command_timeout", l.CommandTimeout, false)
	v.duration(p+"data_block_timeout", l.DataBlockTimeout, false)
	v.duration(p+"data_total_timeout", l.DataTotalTimeout, false)
	v.duration(p+"shutdown_grace", l.ShutdownGrace, true)
}

func (v *validator) pop3Limits(l POP3Limits) {
	const p = "limits.pop3."
	v.positive(p+"max_connections", l.MaxConnections, "the default is 1000")
	v.positive(p+"max_connections_per_ip", l.MaxConnectionsPerIP, "the default is 50")
	v.positive(p+"max_connections_per_account", l.MaxConnectionsPerAccount, "the default is 10")
	if l.IdleTimeout.D() < 10*time.Minute && l.IdleTimeout.D() > 0 {
		v.add(p+"idle_timeout", fmt.Sprintf("%s: shorter than RFC 1939's 10 minutes", l.IdleTimeout),
			`use "10m" or more`)
	}
	v.duration(p+"idle_timeout", l.IdleTimeout, false)
	if d := l.MaildropLease.D(); d > 0 && d < time.Second {
		v.add(p+"maildrop_lease", fmt.Sprintf("%s: shorter than a second", l.MaildropLease), `use "1s" or more; the default is "1m"`)
	}
	v.duration(p+"maildrop_lease", l.MaildropLease, false)
}

func (v *validator) imapLimits(l IMAPLimits) {
	const p = "limits.imap."
	v.positive(p+"max_connections", l.MaxConnections, "the default is 1000")
	v.positive(p+"max_connections_per_ip", l.MaxConnectionsPerIP, "the default is 200")
	v.positive(p+"max_connections_per_account", l.MaxConnectionsPerAccount, "the default is 50")
	if l.IdleTimeout.D() < 30*time.Minute && l.IdleTimeout.D() > 0 {
		v.add(p+"idle_timeout", fmt.Sprintf("%s: shorter than RFC 9051's 30 minutes", l.IdleTimeout),
			`use "30m" or more`)
	}
	v.duration(p+"idle_timeout", l.IdleTimeout, false)
	if l.MaxLineLength < 8192 {
		v.add(p+"max_line_length", fmt.Sprintf("%d: below the 8192 bytes RFC 7162 asks for", l.MaxLineLength),
			"the default is 65536")
	}
	v.positive(p+"max_errors", l.MaxErrors, "the default is 20")
}

func (v *validator) auth(a Auth) {
	v.duration("auth.failure_delay", a.FailureDelay, false)
	v.duration("auth.max_failure_delay", a.MaxFailureDelay, false)
	if a.MaxFailureDelay.D() < a.FailureDelay.D() {
		v.add("auth.max_failure_delay", fmt.Sprintf("%s: shorter than failure_delay (%s)", a.MaxFailureDelay, a.FailureDelay),
			"raise it or lower failure_delay")
	}
	v.positive("auth.max_failures_per_ip", a.MaxFailuresPerIP, "the default is 20")
	v.positive("auth.max_failures_per_account", a.MaxFailuresPerAccount, "the default is 10")
	v.duration("auth.lockout_window", a.LockoutWindow, false)
	v.duration("auth.login_cache", a.LoginCache, true)
}

func (v *validator) positive(key string, n int, hint string) {
	if n < 1 {
		v.add(key, fmt.Sprintf("%d: must be at least 1", n), hint)
	}
}

func (v *validator) duration(key string, d Duration, zeroOK bool) {
	if d.D() < 0 || d.D() == 0 && !zeroOK {
		v.add(key, fmt.Sprintf("%s: must be positive", d), `use a duration such as "30s" or "5m"`)
	}
}

func (v *validator) log(l Log) {
	if _, ok := logLevels[l.Level]; !ok {
		v.add("log.level", fmt.Sprintf("%q: unknown level", l.Level), `use "debug", "info", "warn" or "error"`)
	}
	if l.Format != "text" && l.Format != "json" {
		v.add("log.format", fmt.Sprintf("%q: unknown format", l.Format), `use "text" or "json"`)
	}
}
