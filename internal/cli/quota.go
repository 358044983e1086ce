package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/posthorn/posthorn/internal/config"
	"github.com/posthorn/posthorn/internal/store"
)

// quotaCommand is `posthorn account quota ADDRESS SIZE`.
func quotaCommand() *command {
	var sf storeFlags
	return &command{
		name:    "quota",
		summary: "set an account's storage quota (0 = unlimited)",
		usage:   "[-config FILE | -data-dir DIR] ADDRESS SIZE",
		help: `SIZE is a number of bytes, optionally with a unit: K, M, G, T (powers of
1024: 500M, 2G), or KiB, MiB, GiB, TiB, KB, MB, GB, TB. 0 means unlimited.
The quota counts the size of every message of the account, each copy
counting (IMAP QUOTA, RFC 9208 STORAGE). Mail beyond it is refused:
SMTP answers 452 4.2.2 (the sender retries later), IMAP APPEND and COPY
fail with [OVERQUOTA]. Lowering it below what is stored deletes nothing.`,
		flags: sf.register,
		run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
			if fs.NArg() != 2 {
				return usagef("name an address and a size")
			}
			addr, err := canonical(fs.Arg(0))
			if err != nil {
				return err
			}
			size, err := parseQuota(fs.Arg(1))
			if err != nil {
				return err
			}
			return sf.withStore(ctx, env, func(st store.Store) error {
				err := st.SetQuota(ctx, addr, size)
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("no account %s", addr)
				}
				if err != nil {
					return err
				}
				if size == 0 {
					fmt.Fprintf(env.Stdout, "%s has no quota\n", addr)
				} else {
					fmt.Fprintf(env.Stdout, "quota of %s set to %s\n", addr, config.ByteSize(size))
				}
				return nil
			})
		},
	}
}

// parseQuota reads a quota size: the single-letter binary units of the
// command line (500M, 2G) or any size the config file accepts.
func parseQuota(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if n := len(t); n > 1 {
		if i := strings.IndexByte("KMGT", t[n-1]&^0x20); i >= 0 && t[n-2] >= '0' && t[n-2] <= '9' {
			v, err := strconv.ParseInt(t[:n-1], 10, 64)
			shift := 10 * (i + 1)
			if err != nil || v < 0 || v > (1<<63-1)>>shift {
				return 0, fmt.Errorf("invalid size %q", s)
			}
			return v << shift, nil
		}
	}
	var b config.ByteSize
	if err := b.UnmarshalText([]byte(t)); err != nil {
		return 0, err
	}
	return b.Int64(), nil
}

// quotaText describes an account's quota and usage for account list, or
// "" when it has none.
func quotaText(ctx context.Context, st store.Store, a store.Account) (string, error) {
	if a.QuotaBytes == 0 {
		return "", nil
	}
	used, err := st.Usage(ctx, a.ID)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("quota %s, used %s (%d%%)", config.ByteSize(a.QuotaBytes), config.ByteSize(used),
		used*100/a.QuotaBytes), nil
}
