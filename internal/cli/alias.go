package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/posthorn/posthorn/internal/store"
)

func aliasCommand() *command {
	var sf storeFlags
	return &command{
		name:    "alias",
		summary: "add, list and remove aliases (one address delivered to accounts)",
		sub: []*command{
			{
				name:    "add",
				summary: "deliver mail for ADDRESS to one or more accounts",
				usage:   "[-config FILE | -data-dir DIR] ADDRESS ACCOUNT...",
				help: `ADDRESS is local@domain, or @domain for the domain's catch-all, which
receives mail for every address of the domain that matches no account or
alias. Each ACCOUNT must exist.`,
				flags: sf.register,
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					if fs.NArg() < 2 {
						return usagef("name an address and at least one account")
					}
					addr, err := aliasAddress(fs.Arg(0))
					if err != nil {
						return err
					}
					var targets []string
					for _, a := range fs.Args()[1:] {
						t, err := canonical(a)
						if err != nil {
							return err
						}
						targets = append(targets, t)
					}
					return sf.withStore(ctx, env, func(st store.Store) error {
						for _, t := range targets {
							if _, err := st.Account(ctx, t); errors.Is(err, store.ErrNotFound) {
								return fmt.Errorf("no account %s (aliases point to accounts)", t)
							} else if err != nil {
								return err
							}
						}
						err := st.AddAlias(ctx, addr, targets)
						switch {
						case errors.Is(err, store.ErrUnknownDomain):
							return fmt.Errorf("domain of %s is not served here; add it first with 'posthorn domain add'", addr)
						case errors.Is(err, store.ErrExists):
							return fmt.Errorf("%s already exists (as an account or an alias)", addr)
						case err != nil:
							return err
						}
						fmt.Fprintf(env.Stdout, "added alias %s -> %s\n", addr, strings.Join(targets, ", "))
						return nil
					})
				},
			},
			{
				name:    "list",
				summary: "list aliases, of one domain or of all",
				usage:   "[-config FILE | -data-dir DIR] [DOMAIN]",
				flags:   sf.register,
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					domain, err := optionalDomain(fs)
					if err != nil {
						return err
					}
					return sf.withStore(ctx, env, func(st store.Store) error {
						as, err := st.Aliases(ctx, domain)
						if err != nil {
							return err
						}
						for _, a := range as {
							fmt.Fprintf(env.Stdout, "%s -> %s\n", a.Address, strings.Join(a.Targets, ", "))
						}
						return nil
					})
				},
			},
			{
				name:    "rm",
				summary: "remove an alias",
				usage:   "[-config FILE | -data-dir DIR] ADDRESS",
				flags:   sf.register,
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					if fs.NArg() != 1 {
						return usagef("name exactly one alias address")
					}
					addr, err := aliasAddress(fs.Arg(0))
					if err != nil {
						return err
					}
					return sf.withStore(ctx, env, func(st store.Store) error {
						err := st.RemoveAlias(ctx, addr)
						if errors.Is(err, store.ErrNotFound) {
							return fmt.Errorf("no alias %s", addr)
						}
						if err != nil {
							return err
						}
						fmt.Fprintf(env.Stdout, "removed alias %s\n", addr)
						return nil
					})
				},
			},
		},
	}
}

// aliasAddress accepts local@domain or the catch-all form @domain.
func aliasAddress(s string) (string, error) {
	if strings.HasPrefix(s, "@") {
		d, err := canonicalDomain(s[1:])
		if err != nil {
			return "", err
		}
		return "@" + d, nil
	}
	return canonical(s)
}
