package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/posthorn/posthorn/internal/auth"
	"github.com/posthorn/posthorn/internal/config"
	"github.com/posthorn/posthorn/internal/daemon"
	"github.com/posthorn/posthorn/internal/dkim"
	"github.com/posthorn/posthorn/internal/dnssetup"
	"github.com/posthorn/posthorn/internal/sendmail"
	"github.com/posthorn/posthorn/internal/store"
)

// quickstartListeners are the production ports, one listener each.
var quickstartListeners = []struct{ role, addr, what string }{
	{config.RoleSMTP, ":25", "inbound mail from other servers (MX)"},
	{config.RoleSubmission, ":587", "mail programs sending, STARTTLS"},
	{config.RoleSubmissions, ":465", "mail programs sending, implicit TLS"},
	{config.RoleIMAP, ":143", "IMAP, STARTTLS"},
	{config.RoleIMAPS, ":993", "IMAP, implicit TLS"},
	{config.RolePOP3, ":110", "POP3, STLS"},
	{config.RolePOP3S, ":995", "POP3, implicit TLS"},
}

func quickstartCommand() *command {
	var configFile, hostname, dataDir, ips string
	var force bool
	return &command{
		name:    "quickstart",
		summary: "set up a server for a domain: config, account, DKIM keys and the DNS records to publish",
		usage:   "[-config FILE] [-hostname HOST] [-data-dir DIR] [-ip ADDR,...] [-force] ADMIN-ADDRESS",
		help: "Writes a production configuration (ports 25, 587, 465, 143, 993, 110, 995;\n" +
			"certificates from Let's Encrypt through ACME), creates the domain of\n" +
			"ADMIN-ADDRESS, the account (its password is printed once) with postmaster@\n" +
			"as an alias, and DKIM keys, then prints every DNS record to publish.\n" +
			"An existing configuration file is not overwritten without -force.\n" +
			"Check the published records later with 'posthorn dns check DOMAIN'.",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&configFile, "config", "", "configuration `file` to write (default $POSTHORN_CONFIG or "+DefaultConfigFile+")")
			fs.StringVar(&hostname, "hostname", "", "this server's `name` (default mail.DOMAIN)")
			fs.StringVar(&dataDir, "data-dir", config.Default().DataDir, "data `directory`")
			fs.StringVar(&ips, "ip", "", "this server's public `addresses`, comma-separated, for the A/AAAA records")
			fs.BoolVar(&force, "force", false, "overwrite an existing configuration file")
		},
		run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
			if fs.NArg() != 1 {
				return usagef("name the administrator's address, e.g. admin@example.com")
			}
			admin, err := canonical(fs.Arg(0))
			if err != nil {
				return err
			}
			domain := admin[strings.LastIndexByte(admin, '@')+1:]
			if hostname == "" {
				hostname = "mail." + domain
			}
			if hostname, err = canonicalDomain(hostname); err != nil {
				return err
			}
			var addrs []netip.Addr
			for _, s := range strings.Split(ips, ",") {
				if s = strings.TrimSpace(s); s == "" {
					continue
				}
				ip, err := netip.ParseAddr(s)
				if err != nil {
					return usagef("-ip: %q is not an IP address", s)
				}
				addrs = append(addrs, ip)
			}
			qs := quickstart{env: env, path: configPath(env, configFile), domain: domain, hostname: hostname,
				admin: admin, dataDir: dataDir, ips: addrs, force: force, now: time.Now()}
			return qs.run(ctx)
		},
	}
}

type quickstart struct {
	env                                    *Env
	path, domain, hostname, admin, dataDir string
	ips                                    []netip.Addr
	force                                  bool
	now                                    time.Time
}

func (q *quickstart) run(ctx context.Context) error {
	if err := q.writeConfig(); err != nil {
		return err
	}
	out := q.env.Stdout
	fmt.Fprintf(out, "wrote %s\n", q.path)
	st, err := daemon.OpenStore(ctx, q.dataDir, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.AddDomain(ctx, q.domain); err != nil && !errors.Is(err, store.ErrExists) {
		return err
	}
	if err := q.addAccount(ctx, st); err != nil {
		return err
	}
	keys, err := q.dkimKeys()
	if err != nil {
		return err
	}
	q.printRecords(out, keys)
	return nil
}

// writeConfig writes the configuration, refusing to replace one without
// -force, and checks that it loads.
func (q *quickstart) writeConfig() error {
	if _, err := os.Stat(q.path); err == nil && !q.force {
		return fmt.Errorf("%s exists; not overwriting it without -force", q.path)
	}
	if err := os.MkdirAll(filepath.Dir(q.path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(q.path), ".posthorn-*.toml")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = io.WriteString(tmp, q.configText())
	if err == nil {
		err = tmp.Chmod(0o640)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if _, err := config.Load(tmp.Name()); err != nil {
		return fmt.Errorf("the configuration written does not load (a bug): %w", err)
	}
	return os.Rename(tmp.Name(), q.path)
}

func (q *quickstart) configText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# posthorn configuration for %s, written by 'posthorn quickstart' on %s.\n", q.domain, q.now.UTC().Format("2006-01-02"))
	b.WriteString("# Every key with its default and documentation: 'posthorn config sample'.\n\n")
	fmt.Fprintf(&b, "hostname = %q\ndomains = [%q]\ndata_dir = %q\n", q.hostname, q.domain, q.dataDir)
	for _, l := range quickstartListeners {
		fmt.Fprintf(&b, "\n# %s\n[[listeners]]\nrole = %q\naddress = %q\n", l.what, l.role, l.addr)
	}
	b.WriteString("\n# Certificates from Let's Encrypt, obtained at start and renewed. Ports 443\n")
	b.WriteString("# (TLS-ALPN-01) or 80 (HTTP-01) must reach this server under the host name.\n")
	fmt.Fprintf(&b, "[tls.acme]\nhostnames = [%q]\nemail = %q\n", q.hostname, q.admin)
	b.WriteString("\n# Local submission for 'posthorn sendmail' (ln -s posthorn /usr/sbin/sendmail):\n")
	b.WriteString("# PHP mail(), cron and scripts on this machine, as any local user.\n")
	fmt.Fprintf(&b, "[sendmail]\nsocket = %q\n", sendmail.DefaultSocket)
	b.WriteString("\n# DNS goes to the resolvers of /etc/resolv.conf. For DANE (RFC 7672) run a\n")
	b.WriteString("# validating resolver on this machine (unbound, say) and enable:\n")
	b.WriteString("# [dns]\n# servers = [\"127.0.0.1\"]\n# trust_ad = true\n")
	return b.String()
}

// addAccount creates the administrator's account with a generated
// password, printed once, and postmaster@ (RFC 5321 §4.5.1) as an alias.
func (q *quickstart) addAccount(ctx context.Context, st store.Store) error {
	out := q.env.Stdout
	pw := auth.GeneratePassword()
	cred, err := auth.NewCredentials(pw)
	if err != nil {
		return err
	}
	_, err = st.AddAccount(ctx, q.admin, cred)
	switch {
	case errors.Is(err, store.ErrExists):
		fmt.Fprintf(out, "account %s exists; its password is unchanged\n", q.admin)
	case err != nil:
		return err
	default:
		fmt.Fprintf(out, "added account %s\npassword: %s\n(shown once; change it with 'posthorn account passwd %s')\n", q.admin, pw, q.admin)
	}
	pm := "postmaster@" + q.domain
	if pm == q.admin {
		return nil
	}
	err = st.AddAlias(ctx, pm, []string{q.admin})
	if err != nil && !errors.Is(err, store.ErrExists) {
		return err
	}
	if err == nil {
		fmt.Fprintf(out, "added alias %s -> %s\n", pm, q.admin)
	}
	return nil
}

// dkimKeys returns the domain's keys, making an RSA and an Ed25519 key
// when it has none.
func (q *quickstart) dkimKeys() ([]dkim.KeyInfo, error) {
	kd := daemon.DKIMKeys(q.dataDir)
	keys, err := domainKeys(kd, q.domain)
	if err != nil || len(keys) > 0 {
		return keys, err
	}
	keys, err = generateKeys(kd, q.domain, "", []dkim.Algorithm{dkim.RSA, dkim.Ed25519}, q.now)
	for _, k := range keys {
		fmt.Fprintf(q.env.Stdout, "made %s DKIM key %s\n", k.Algorithm, k.Selector)
	}
	return keys, err
}

// domainKeys lists the DKIM keys of one domain.
func domainKeys(kd dkim.KeyDir, domain string) ([]dkim.KeyInfo, error) {
	all, err := kd.List()
	if err != nil {
		return nil, err
	}
	var out []dkim.KeyInfo
	for _, k := range all {
		if k.Domain == domain {
			out = append(out, k)
		}
	}
	return out, nil
}

func (q *quickstart) printRecords(out io.Writer, keys []dkim.KeyInfo) {
	p := dnssetup.Params{Domain: q.domain, Hostname: q.hostname, Admin: q.admin, Keys: keys, IPs: q.ips}
	fmt.Fprintf(out, "\nPublish these DNS records (zone-file syntax):\n\n")
	if len(q.ips) == 0 {
		fmt.Fprintf(out, "; %s. A and/or AAAA: this server's public addresses (or use -ip)\n", q.hostname)
	}
	for _, r := range dnssetup.Expected(p, q.now) {
		fmt.Fprintln(out, r.Zone())
	}
	fmt.Fprintf(out, "; mta-sts.%s. A/AAAA/CNAME: a web server with a valid certificate for that name\n", q.domain)
	fmt.Fprintf(out, "\nAlso:\n")
	fmt.Fprintf(out, "- reverse DNS (PTR) of each address of %s: %s (ask the provider of the address)\n", q.hostname, q.hostname)
	fmt.Fprintf(out, "- MTA-STS: posthorn does not serve the policy itself; put this file at\n")
	fmt.Fprintf(out, "  https://mta-sts.%s/.well-known/mta-sts.txt (Content-Type text/plain):\n\n", q.domain)
	for _, l := range strings.Split(strings.TrimSpace(dnssetup.STSPolicyFile(p)), "\n") {
		fmt.Fprintf(out, "    %s\n", strings.TrimSpace(l))
	}
	fmt.Fprintf(out, "\n  Once the TLS reports (to %s) show no failures, change mode to enforce\n", q.admin)
	fmt.Fprintf(out, "  and the id in _mta-sts.%s.\n", q.domain)
	fmt.Fprintf(out, "- Mail programs find the servers by the SRV records above (RFC 6186).\n")
	fmt.Fprintf(out, "  Thunderbird and others also read https://autoconfig.%s/mail/config-v1.1.xml;\n", q.domain)
	fmt.Fprintf(out, "  posthorn does not serve it: to offer it, point autoconfig.%s at the web\n", q.domain)
	fmt.Fprintf(out, "  server of the MTA-STS policy and put this file there (Outlook's\n")
	fmt.Fprintf(out, "  autodiscover is not provided):\n\n")
	for _, l := range strings.Split(strings.TrimSpace(dnssetup.AutoconfigXML(p)), "\n") {
		fmt.Fprintf(out, "      %s\n", l)
	}
	fmt.Fprintf(out, "\nThen start the server ('posthorn serve -config %s') and check the\n", q.path)
	fmt.Fprintf(out, "records with 'posthorn dns check -config %s %s'.\n", q.path, q.domain)
}
