package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/posthorn/posthorn/internal/smtp"
	"github.com/posthorn/posthorn/internal/store"
)

func suppressionCommand() *command {
	var sf storeFlags
	var reason string
	// args parses DOMAIN ADDRESS.
	args := func(fs *flag.FlagSet) (string, string, error) {
		if fs.NArg() != 2 {
			return "", "", usagef("name a domain and an address")
		}
		domain, err := canonicalDomain(fs.Arg(0))
		if err != nil {
			return "", "", err
		}
		a, err := smtp.ParseAddress(fs.Arg(1))
		if err != nil {
			return "", "", fmt.Errorf("%q is not a valid address: %w", fs.Arg(1), err)
		}
		return domain, strings.ToLower(a.String()), nil
	}
	return &command{
		name:    "suppression",
		summary: "list, add and remove the addresses a domain no longer sends to",
		sub: []*command{
			{
				name:    "list",
				summary: "list a domain's suppression list",
				usage:   "[-config FILE | -data-dir DIR] DOMAIN",
				flags:   sf.register,
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					if fs.NArg() != 1 {
						return usagef("name one domain")
					}
					domain, err := canonicalDomain(fs.Arg(0))
					if err != nil {
						return err
					}
					return sf.withStore(ctx, env, func(st store.Store) error {
						list, err := st.Suppressions(ctx, domain, "", 0)
						if err != nil {
							return err
						}
						for _, s := range list {
							fmt.Fprintf(env.Stdout, "%s %s %s\n", s.Address, s.Created.Format("2006-01-02T15:04:05Z"), s.Reason)
						}
						return nil
					})
				},
			},
			{
				name:    "add",
				summary: "stop sending from DOMAIN to ADDRESS",
				usage:   "[-config FILE | -data-dir DIR] [-reason TEXT] DOMAIN ADDRESS",
				help: `Sends from DOMAIN to ADDRESS are refused: through the HTTP API as
"suppressed", over SMTP submission with 550 5.1.1. Hard bounces (5.1.x,
5.2.1) add addresses by themselves.`,
				flags: func(fs *flag.FlagSet) {
					sf.register(fs)
					fs.StringVar(&reason, "reason", "added by hand", "why, for the list")
				},
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					domain, addr, err := args(fs)
					if err != nil {
						return err
					}
					return sf.withStore(ctx, env, func(st store.Store) error {
						err := st.AddSuppression(ctx, store.Suppression{Domain: domain, Address: addr, Reason: reason})
						switch {
						case errors.Is(err, store.ErrUnknownDomain):
							return fmt.Errorf("domain %s is not served here", domain)
						case errors.Is(err, store.ErrExists):
							return fmt.Errorf("%s is already on %s's suppression list", addr, domain)
						case err != nil:
							return err
						}
						fmt.Fprintf(env.Stdout, "suppressed %s for %s\n", addr, domain)
						return nil
					})
				},
			},
			{
				name:    "rm",
				summary: "send from DOMAIN to ADDRESS again",
				usage:   "[-config FILE | -data-dir DIR] DOMAIN ADDRESS",
				flags:   sf.register,
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					domain, addr, err := args(fs)
					if err != nil {
						return err
					}
					return sf.withStore(ctx, env, func(st store.Store) error {
						err := st.RemoveSuppression(ctx, domain, addr)
						if errors.Is(err, store.ErrNotFound) {
							return fmt.Errorf("%s is not on %s's suppression list", addr, domain)
						}
						if err != nil {
							return err
						}
						fmt.Fprintf(env.Stdout, "removed %s from %s's suppression list\n", addr, domain)
						return nil
					})
				},
			},
		},
	}
}
