package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	iofs "io/fs"
	"time"

	"github.com/posthorn/posthorn/internal/daemon"
	"github.com/posthorn/posthorn/internal/dkim"
	"github.com/posthorn/posthorn/internal/store"
)

func dkimCommand() *command {
	var sf storeFlags
	var selector, algorithm string
	return &command{
		name:    "dkim",
		summary: "make, list and remove the DKIM keys that sign outgoing mail",
		sub: []*command{
			{
				name:    "keygen",
				summary: "make signing keys for a domain and print the DNS records to publish",
				usage:   "[-config FILE | -data-dir DIR] [-selector S] [-algorithm rsa|ed25519] DOMAIN",
				help: "Without -algorithm an RSA-2048 and an Ed25519 key are made, each with its own\n" +
					"selector (rsa-YYYYMMDD, ed25519-YYYYMMDD): mail is signed with both (RFC 8463).\n" +
					"Keys live in DATA/dkim/DOMAIN/SELECTOR.pem (mode 0600); a running server\n" +
					"starts signing with a new key within seconds. To rotate: keygen, publish the\n" +
					"new record, wait for DNS, then 'dkim rm' the old selector.",
				flags: func(fs *flag.FlagSet) {
					sf.register(fs)
					fs.StringVar(&selector, "selector", "", "selector `name` (default ALGORITHM-YYYYMMDD); needs -algorithm")
					fs.StringVar(&algorithm, "algorithm", "", "key `type`: rsa or ed25519 (default both)")
				},
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					if fs.NArg() != 1 {
						return usagef("name exactly one domain")
					}
					d, err := canonicalDomain(fs.Arg(0))
					if err != nil {
						return err
					}
					algs := []dkim.Algorithm{dkim.RSA, dkim.Ed25519}
					switch algorithm {
					case "":
						if selector != "" {
							return usagef("-selector names one key: give -algorithm too")
						}
					case "rsa", "ed25519":
						algs = []dkim.Algorithm{dkim.Algorithm(algorithm)}
					default:
						return usagef("-algorithm is rsa or ed25519, not %q", algorithm)
					}
					dir, err := sf.dir(env)
					if err != nil {
						return err
					}
					if err := sf.withStore(ctx, env, func(st store.Store) error { return requireDomain(ctx, st, d) }); err != nil {
						return err
					}
					keys, err := generateKeys(daemon.DKIMKeys(dir), d, selector, algs, time.Now())
					if err != nil {
						return err
					}
					for _, k := range keys {
						fmt.Fprintf(env.Stdout, "made %s key %s for %s (%s)\n", k.Algorithm, k.Selector, k.Domain, k.Path)
					}
					fmt.Fprintf(env.Stdout, "\nPublish in DNS:\n")
					for _, k := range keys {
						fmt.Fprintln(env.Stdout, dkim.ZoneEntry(k.Selector, k.Domain, k.Record))
					}
					return nil
				},
			},
			{
				name:    "list",
				summary: "list the signing keys and their DNS records",
				usage:   "[-config FILE | -data-dir DIR] [DOMAIN]",
				flags:   sf.register,
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					if fs.NArg() > 1 {
						return usagef("name at most one domain")
					}
					dir, err := sf.dir(env)
					if err != nil {
						return err
					}
					keys, err := daemon.DKIMKeys(dir).List()
					if err != nil {
						return err
					}
					for _, k := range keys {
						if fs.NArg() == 1 && k.Domain != fs.Arg(0) {
							continue
						}
						fmt.Fprintf(env.Stdout, "%s\t%s\t%s\n\t%s\n", k.Domain, k.Selector, k.Algorithm, dkim.ZoneEntry(k.Selector, k.Domain, k.Record))
					}
					return nil
				},
			},
			{
				name:    "rm",
				summary: "remove a signing key (after its successor is published)",
				usage:   "[-config FILE | -data-dir DIR] DOMAIN SELECTOR",
				flags:   sf.register,
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					if fs.NArg() != 2 {
						return usagef("name a domain and a selector")
					}
					d, err := canonicalDomain(fs.Arg(0))
					if err != nil {
						return err
					}
					dir, err := sf.dir(env)
					if err != nil {
						return err
					}
					err = daemon.DKIMKeys(dir).Remove(d, fs.Arg(1))
					if errors.Is(err, iofs.ErrNotExist) {
						return fmt.Errorf("no key %s for %s", fs.Arg(1), d)
					}
					if err != nil {
						return err
					}
					fmt.Fprintf(env.Stdout, "removed key %s of %s; its DNS record can go once mail signed with it is delivered (a few days)\n", fs.Arg(1), d)
					return nil
				},
			},
		},
	}
}

// requireDomain fails unless the store serves domain.
func requireDomain(ctx context.Context, st store.Store, domain string) error {
	ok, err := st.HasDomain(ctx, domain)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("domain %s is not served here (add it with 'posthorn domain add %s')", domain, domain)
	}
	return nil
}

// generateKeys makes one key per algorithm; selector, when given, names
// the only one.
func generateKeys(kd dkim.KeyDir, domain, selector string, algs []dkim.Algorithm, now time.Time) ([]dkim.KeyInfo, error) {
	var out []dkim.KeyInfo
	for _, alg := range algs {
		sel := selector
		if sel == "" {
			sel = dkim.DefaultSelector(alg, now)
		}
		k, err := kd.Generate(domain, sel, alg)
		if errors.Is(err, dkim.ErrKeyExists) {
			return out, fmt.Errorf("%s already has a key %s; choose another with -selector", domain, sel)
		}
		if err != nil {
			return out, err
		}
		out = append(out, k)
	}
	return out, nil
}
