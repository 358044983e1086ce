package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"text/tabwriter"

	"github.com/posthorn/posthorn/internal/auth"
	"github.com/posthorn/posthorn/internal/store"
)

// appPasswordCommand is `posthorn account app-password add|list|rm`.
func appPasswordCommand() *command {
	var sf storeFlags
	return &command{
		name:    "app-password",
		summary: "add, list and revoke an account's app passwords",
		sub: []*command{
			{
				name:    "add",
				summary: "generate an app password named NAME for one device or application",
				usage:   "[-config FILE | -data-dir DIR] ADDRESS NAME",
				help: `The password is generated, printed once and stored only as an argon2id
hash. It works for SMTP submission, IMAP and POP3 with PLAIN or LOGIN (not
SCRAM, which needs the account password), and can be revoked on its own
with 'posthorn account app-password rm'.`,
				flags: sf.register,
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					addr, name, err := addressAndName(fs)
					if err != nil {
						return err
					}
					pw := auth.GeneratePassword()
					hash, err := auth.HashPassword(pw)
					if err != nil {
						return err
					}
					return sf.withStore(ctx, env, func(st store.Store) error {
						_, err := st.AddAppPassword(ctx, addr, name, store.Credentials{PasswordHash: hash})
						switch {
						case errors.Is(err, store.ErrNotFound):
							return fmt.Errorf("no account %s", addr)
						case errors.Is(err, store.ErrExists):
							return fmt.Errorf("%s already has an app password named %q; remove it first or pick another name", addr, name)
						case errors.Is(err, store.ErrInvalid):
							return fmt.Errorf("app password name %q: use 1 to 64 characters without tabs or line breaks", name)
						case err != nil:
							return err
						}
						fmt.Fprintf(env.Stdout, "added app password %q of %s\npassword: %s\n", name, addr, pw)
						return nil
					})
				},
			},
			{
				name:    "list",
				summary: "list an account's app passwords (names and dates, never the passwords)",
				usage:   "[-config FILE | -data-dir DIR] ADDRESS",
				flags:   sf.register,
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					if fs.NArg() != 1 {
						return usagef("name exactly one address")
					}
					addr, err := canonical(fs.Arg(0))
					if err != nil {
						return err
					}
					return sf.withStore(ctx, env, func(st store.Store) error {
						ps, err := st.AppPasswords(ctx, addr)
						if errors.Is(err, store.ErrNotFound) {
							return fmt.Errorf("no account %s", addr)
						}
						if err != nil {
							return err
						}
						tw := tabwriter.NewWriter(env.Stdout, 0, 8, 2, ' ', 0)
						for _, p := range ps {
							fmt.Fprintf(tw, "%s\tcreated %s\n", p.Name, p.Created.Format("2006-01-02 15:04 MST"))
						}
						return tw.Flush()
					})
				},
			},
			{
				name:    "rm",
				summary: "revoke an app password",
				usage:   "[-config FILE | -data-dir DIR] ADDRESS NAME",
				help:    `New logins with the password fail at once; sessions already logged in keep running until they end.`,
				flags:   sf.register,
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					addr, name, err := addressAndName(fs)
					if err != nil {
						return err
					}
					return sf.withStore(ctx, env, func(st store.Store) error {
						err := st.RemoveAppPassword(ctx, addr, name)
						if errors.Is(err, store.ErrNotFound) {
							return fmt.Errorf("%s has no app password named %q", addr, name)
						}
						if err != nil {
							return err
						}
						fmt.Fprintf(env.Stdout, "revoked app password %q of %s\n", name, addr)
						return nil
					})
				},
			},
		},
	}
}

// sendAsCommand is `posthorn account send-as ADDRESS own|domain`.
func sendAsCommand() *command {
	var sf storeFlags
	return &command{
		name:    "send-as",
		summary: "let an account send from any address of its domain, or only its own",
		usage:   "[-config FILE | -data-dir DIR] ADDRESS own|domain",
		help: `With "own" (the default for new accounts) the account may submit mail
only from its own address and the aliases that point to it; with "domain"
from any address of its domain (for shared senders such as
noreply@example.org).`,
		flags: sf.register,
		run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
			if fs.NArg() != 2 || (fs.Arg(1) != "own" && fs.Arg(1) != "domain") {
				return usagef("name an address, then own or domain")
			}
			addr, err := canonical(fs.Arg(0))
			if err != nil {
				return err
			}
			return sf.withStore(ctx, env, func(st store.Store) error {
				err := st.SetMaySendAsDomain(ctx, addr, fs.Arg(1) == "domain")
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("no account %s", addr)
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "%s may now send as: %s\n", addr, map[string]string{
					"own": "its own address and its aliases", "domain": "any address of its domain"}[fs.Arg(1)])
				return nil
			})
		},
	}
}

func addressAndName(fs *flag.FlagSet) (addr, name string, err error) {
	if fs.NArg() != 2 {
		return "", "", usagef("name an address and an app password name")
	}
	addr, err = canonical(fs.Arg(0))
	return addr, fs.Arg(1), err
}
