package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/posthorn/posthorn/internal/config"
	"github.com/posthorn/posthorn/internal/daemon"
	"github.com/posthorn/posthorn/internal/dnssetup"
	"github.com/posthorn/posthorn/internal/tlspolicy"
)

func dnsCommand() *command {
	var configFile string
	return &command{
		name:    "dns",
		summary: "check the DNS records of a domain",
		sub: []*command{{
			name:    "check",
			summary: "compare what DNS publishes for a domain with what it should",
			usage:   "[-config FILE] DOMAIN",
			help: "Looks up, through the resolvers of [dns], the MX, address, reverse, SPF,\n" +
				"DKIM (one per key in the data directory), DMARC, MTA-STS, TLS-RPT and SRV\n" +
				"records, fetches the MTA-STS policy file, and prints one line each: ok,\n" +
				"missing or wrong (with what to publish), or error when the lookup failed.\n" +
				"SPF is evaluated for the host's addresses. Exit status 1 when any is not ok.",
			flags: func(fs *flag.FlagSet) {
				fs.StringVar(&configFile, "config", "", "configuration `file` (default $POSTHORN_CONFIG or "+DefaultConfigFile+")")
			},
			run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
				if fs.NArg() != 1 {
					return usagef("name exactly one domain")
				}
				domain, err := canonicalDomain(fs.Arg(0))
				if err != nil {
					return err
				}
				cfg, err := config.Load(configPath(env, configFile))
				if err != nil {
					return err
				}
				r, err := daemon.NewResolver(cfg.DNS)
				if err != nil {
					return err
				}
				keys, err := domainKeys(daemon.DKIMKeys(cfg.DataDir), domain)
				if err != nil {
					return err
				}
				sts, err := tlspolicy.New(tlspolicy.Options{Resolver: r, RootCAs: env.testRoots, Dial: env.testDial, FetchTimeout: 30 * time.Second})
				if err != nil {
					return err
				}
				p := dnssetup.Params{Domain: domain, Hostname: cfg.Hostname, Admin: "postmaster@" + domain, Keys: keys, STS: sts}
				bad := 0
				for _, res := range dnssetup.Check(ctx, r, p) {
					fmt.Fprintln(env.Stdout, res)
					if res.Status != dnssetup.OK {
						bad++
					}
				}
				if bad > 0 {
					return errors.New(fmt.Sprint(bad, " records need attention"))
				}
				return nil
			},
		}},
	}
}
