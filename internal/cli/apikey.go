package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/posthorn/posthorn/internal/httpapi"
	"github.com/posthorn/posthorn/internal/store"
)

// apiKeyCommand is `posthorn apikey create|list|revoke`.
func apiKeyCommand() *command {
	var sf storeFlags
	return &command{
		name:    "apikey",
		summary: "create, list and revoke keys of the HTTP API",
		sub: []*command{
			{
				name:    "create",
				summary: "make an API key for a domain, or for one sending address",
				usage:   "[-config FILE | -data-dir DIR] NAME DOMAIN|ADDRESS",
				help: `Prints the key (ph_ and 52 characters) on standard output, and only
now: posthorn stores just its SHA-256 hash. Scoped to DOMAIN, the key
sends from any address of it and sees the domain's messages, events,
suppressions and webhooks; scoped to ADDRESS, it sends only from that
address. Use it as "Authorization: Bearer KEY".
  KEY=$(posthorn apikey create shop example.org)`,
				flags: sf.register,
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					if fs.NArg() != 2 {
						return usagef("name the key, then a domain or an address")
					}
					name, scope := fs.Arg(0), fs.Arg(1)
					token, k := httpapi.NewKey()
					k.Name = name
					if strings.Contains(scope, "@") {
						addr, err := canonical(scope)
						if err != nil {
							return err
						}
						k.Address, k.Domain = addr, addr[strings.LastIndexByte(addr, '@')+1:]
					} else {
						dom, err := canonicalDomain(scope)
						if err != nil {
							return err
						}
						k.Domain = dom
					}
					return sf.withStore(ctx, env, func(st store.Store) error {
						_, err := st.AddAPIKey(ctx, k)
						switch {
						case errors.Is(err, store.ErrUnknownDomain):
							return fmt.Errorf("%s is not a domain of this server; add it with 'posthorn domain add'", k.Domain)
						case errors.Is(err, store.ErrExists):
							return fmt.Errorf("an API key named %q exists already; revoke it first or pick another name", name)
						case errors.Is(err, store.ErrInvalid):
							return fmt.Errorf("API key name %q: use 1 to 64 characters without tabs or line breaks", name)
						case err != nil:
							return err
						}
						fmt.Fprintf(env.Stderr, "created API key %q for %s; it is shown only now:\n", name, scope)
						fmt.Fprintln(env.Stdout, token)
						return nil
					})
				},
			},
			{
				name:    "list",
				summary: "list API keys (name, scope, public prefix; never the keys)",
				usage:   "[-config FILE | -data-dir DIR] [DOMAIN]",
				flags:   sf.register,
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					var dom string
					switch fs.NArg() {
					case 0:
					case 1:
						var err error
						if dom, err = canonicalDomain(fs.Arg(0)); err != nil {
							return err
						}
					default:
						return usagef("name at most one domain")
					}
					return sf.withStore(ctx, env, func(st store.Store) error {
						keys, err := st.APIKeys(ctx, dom)
						if err != nil {
							return err
						}
						tw := tabwriter.NewWriter(env.Stdout, 0, 8, 2, ' ', 0)
						for _, k := range keys {
							scope := k.Domain
							if k.Address != "" {
								scope = k.Address
							}
							fmt.Fprintf(tw, "%s\t%s\t%s...\tcreated %s\n", k.Name, scope, k.Prefix, k.Created.Format("2006-01-02 15:04 MST"))
						}
						return tw.Flush()
					})
				},
			},
			{
				name:    "revoke",
				summary: "revoke an API key",
				usage:   "[-config FILE | -data-dir DIR] NAME",
				help:    `Requests with the key fail from the next one on, also on a running server.`,
				flags:   sf.register,
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					if fs.NArg() != 1 {
						return usagef("name exactly one key")
					}
					return sf.withStore(ctx, env, func(st store.Store) error {
						err := st.RemoveAPIKey(ctx, fs.Arg(0))
						if errors.Is(err, store.ErrNotFound) {
							return fmt.Errorf("no API key named %q", fs.Arg(0))
						}
						if err != nil {
							return err
						}
						fmt.Fprintf(env.Stdout, "revoked API key %q\n", fs.Arg(0))
						return nil
					})
				},
			},
		},
	}
}
