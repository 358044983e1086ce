package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/posthorn/posthorn/internal/config"
)

func configCommand() *command {
	return &command{
		name:    "config",
		summary: "check a configuration file or print a commented sample",
		sub: []*command{
			{
				name:    "check",
				summary: "validate a configuration file without starting anything",
				usage:   "FILE",
				help: `Every problem is reported with file, line and key, and the exit status is
1 when there is any.`,
				run: func(_ context.Context, env *Env, fs *flag.FlagSet) error {
					if fs.NArg() != 1 {
						return usagef("name exactly one file")
					}
					cfg, err := config.Load(fs.Arg(0))
					if err != nil {
						return err
					}
					fmt.Fprintf(env.Stdout, "%s: ok\n", fs.Arg(0))
					// The file is valid, but serve would still stop at once
					// without a connection string: say so here, where the
					// operator looks first (the environment of the service
					// may differ from this shell's, so only a note).
					if cfg.Store.Backend == config.StorePostgres {
						if _, err := cfg.Store.PostgresDSN(env.Getenv); err != nil {
							fmt.Fprintf(env.Stderr, "note: in this environment posthorn serve would stop: %v\n", err)
						}
					}
					return nil
				},
			},
			{
				name:    "sample",
				summary: "print a complete configuration with every key, its default and its documentation",
				run: func(_ context.Context, env *Env, fs *flag.FlagSet) error {
					if fs.NArg() != 0 {
						return usagef("takes no arguments")
					}
					_, err := fmt.Fprint(env.Stdout, config.Sample())
					return err
				},
			},
		},
	}
}
