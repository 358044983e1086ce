package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/posthorn/posthorn/internal/auth"
	"github.com/posthorn/posthorn/internal/store"
)

func accountCommand() *command {
	var sf storeFlags
	var generate bool
	pwFlags := func(fs *flag.FlagSet) {
		sf.register(fs)
		fs.BoolVar(&generate, "generate", false, "generate a random password and print it once")
	}
	const pwHelp = `The password is read from the first line of standard input (without echo
on a terminal), or generated with -generate and printed once. It is stored
only as an argon2id hash and SCRAM-SHA-256 keys.`
	return &command{
		name:    "account",
		summary: "add, list and remove mail accounts and set their passwords",
		sub: []*command{
			{
				name:    "add",
				summary: "create an account (its login is its address) with the default mailboxes",
				usage:   "[-config FILE | -data-dir DIR] [-generate] ADDRESS",
				help:    pwHelp,
				flags:   pwFlags,
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					return setPassword(ctx, env, fs, &sf, generate, func(st store.Store, addr string, cred store.Credentials) (string, error) {
						_, err := st.AddAccount(ctx, addr, cred)
						switch {
						case errors.Is(err, store.ErrUnknownDomain):
							return "", fmt.Errorf("domain of %s is not served here; add it first with 'posthorn domain add %s'", addr, addr[strings.LastIndexByte(addr, '@')+1:])
						case errors.Is(err, store.ErrExists):
							return "", fmt.Errorf("%s already exists (as an account or an alias)", addr)
						case err != nil:
							return "", err
						}
						return "added account " + addr, nil
					})
				},
			},
			{
				name:    "passwd",
				summary: "set an account's password",
				usage:   "[-config FILE | -data-dir DIR] [-generate] ADDRESS",
				help:    pwHelp,
				flags:   pwFlags,
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					return setPassword(ctx, env, fs, &sf, generate, func(st store.Store, addr string, cred store.Credentials) (string, error) {
						err := st.SetCredentials(ctx, addr, cred)
						if errors.Is(err, store.ErrNotFound) {
							return "", fmt.Errorf("no account %s", addr)
						}
						if err != nil {
							return "", err
						}
						return "password of " + addr + " changed", nil
					})
				},
			},
			{
				name:    "list",
				summary: "list accounts, of one domain or of all, with quota and usage where set",
				usage:   "[-config FILE | -data-dir DIR] [DOMAIN]",
				flags:   sf.register,
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					domain, err := optionalDomain(fs)
					if err != nil {
						return err
					}
					return sf.withStore(ctx, env, func(st store.Store) error {
						if domain != "" {
							if ok, err := st.HasDomain(ctx, domain); err != nil {
								return err
							} else if !ok {
								return fmt.Errorf("domain %s is not served here", domain)
							}
						}
						as, err := st.Accounts(ctx, domain)
						if err != nil {
							return err
						}
						for _, a := range as {
							q, err := quotaText(ctx, st, a)
							if err != nil {
								return err
							}
							if q == "" {
								fmt.Fprintln(env.Stdout, a.Address)
							} else {
								fmt.Fprintf(env.Stdout, "%s\t%s\n", a.Address, q)
							}
						}
						return nil
					})
				},
			},
			{
				name:    "rm",
				summary: "remove an account with all its mailboxes and messages",
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
						err := st.RemoveAccount(ctx, addr)
						if errors.Is(err, store.ErrNotFound) {
							return fmt.Errorf("no account %s", addr)
						}
						if err != nil {
							return err
						}
						fmt.Fprintf(env.Stdout, "removed account %s\n", addr)
						return nil
					})
				},
			},
			appPasswordCommand(),
			sendAsCommand(),
			quotaCommand(),
		},
	}
}

// setPassword is the common part of account add and passwd: it takes the
// one ADDRESS argument, reads or generates the password, derives the stored
// credentials and runs apply on the store. It prints apply's message and,
// when generated, the password (once).
func setPassword(ctx context.Context, env *Env, fs *flag.FlagSet, sf *storeFlags, generate bool,
	apply func(st store.Store, addr string, cred store.Credentials) (string, error)) error {
	if fs.NArg() != 1 {
		return usagef("name exactly one address")
	}
	addr, err := canonical(fs.Arg(0))
	if err != nil {
		return err
	}
	pw, err := readPassword(env, generate)
	if err != nil {
		return err
	}
	cred, err := auth.NewCredentials(pw)
	if err != nil {
		return err
	}
	return sf.withStore(ctx, env, func(st store.Store) error {
		msg, err := apply(st, addr, cred)
		if err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, msg)
		if generate {
			fmt.Fprintf(env.Stdout, "password: %s\n", pw)
		}
		return nil
	})
}

// readPassword generates a password or reads one line from stdin, without
// echo when stdin is a terminal.
func readPassword(env *Env, generate bool) (string, error) {
	if generate {
		return auth.GeneratePassword(), nil
	}
	if f, ok := env.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(env.Stderr, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.Stderr)
		if err != nil {
			return "", err
		}
		return checkPassword(string(b))
	}
	line, err := bufio.NewReader(env.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("no password on standard input (pipe one in, or use -generate)")
	}
	return checkPassword(strings.TrimRight(line, "\r\n"))
}

func checkPassword(pw string) (string, error) {
	if pw == "" {
		return "", errors.New("empty password (pipe one in, or use -generate)")
	}
	if len(pw) < 8 {
		return "", errors.New("password shorter than 8 characters")
	}
	return pw, nil
}
