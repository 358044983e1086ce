package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/posthorn/posthorn/internal/store"
)

func domainCommand() *command {
	var sf storeFlags
	return &command{
		name:    "domain",
		summary: "add, list and remove the mail domains served here",
		sub: []*command{
			{
				name:    "add",
				summary: "serve mail for one or more domains",
				usage:   "[-config FILE | -data-dir DIR] DOMAIN...",
				flags:   sf.register,
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					if fs.NArg() == 0 {
						return usagef("name at least one domain")
					}
					var names []string
					for _, a := range fs.Args() {
						d, err := canonicalDomain(a)
						if err != nil {
							return err
						}
						names = append(names, d)
					}
					return sf.withStore(ctx, env, func(st store.Store) error {
						for _, d := range names {
							err := st.AddDomain(ctx, d)
							if errors.Is(err, store.ErrExists) {
								return fmt.Errorf("domain %s already exists", d)
							}
							if err != nil {
								return err
							}
							fmt.Fprintf(env.Stdout, "added domain %s\n", d)
						}
						return nil
					})
				},
			},
			{
				name:    "list",
				summary: "list the domains",
				usage:   "[-config FILE | -data-dir DIR]",
				flags:   sf.register,
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					if fs.NArg() != 0 {
						return usagef("takes no arguments")
					}
					return sf.withStore(ctx, env, func(st store.Store) error {
						ds, err := st.Domains(ctx)
						if err != nil {
							return err
						}
						for _, d := range ds {
							fmt.Fprintln(env.Stdout, d.Name)
						}
						return nil
					})
				},
			},
			{
				name:    "rm",
				summary: "stop serving a domain (it must have no accounts or aliases left)",
				usage:   "[-config FILE | -data-dir DIR] DOMAIN",
				flags:   sf.register,
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					if fs.NArg() != 1 {
						return usagef("name exactly one domain")
					}
					d, err := canonicalDomain(fs.Arg(0))
					if err != nil {
						return err
					}
					return sf.withStore(ctx, env, func(st store.Store) error {
						err := st.RemoveDomain(ctx, d)
						switch {
						case errors.Is(err, store.ErrNotFound):
							return fmt.Errorf("domain %s does not exist", d)
						case errors.Is(err, store.ErrDomainNotEmpty):
							return fmt.Errorf("domain %s still has accounts or aliases; remove them first (see 'posthorn account list %s' and 'posthorn alias list %s')", d, d, d)
						case err != nil:
							return err
						}
						fmt.Fprintf(env.Stdout, "removed domain %s\n", d)
						return nil
					})
				},
			},
		},
	}
}
