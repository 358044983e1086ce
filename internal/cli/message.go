package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"mime"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/posthorn/posthorn/internal/store"
)

func messageCommand() *command {
	var sf storeFlags
	var mailbox string
	flags := func(fs *flag.FlagSet) {
		sf.register(fs)
		fs.StringVar(&mailbox, "mailbox", store.Inbox, "mailbox `name`")
	}
	return &command{
		name:    "message",
		summary: "inspect the messages in an account's mailboxes",
		sub: []*command{
			{
				name:    "list",
				summary: "list the messages of a mailbox: UID, date, size, flags, From and Subject",
				usage:   "[-config FILE | -data-dir DIR] [-mailbox NAME] ACCOUNT",
				flags:   flags,
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					if fs.NArg() != 1 {
						return usagef("name exactly one account")
					}
					return withMailbox(ctx, env, &sf, fs.Arg(0), mailbox, func(st store.Store, mb store.Mailbox) error {
						msgs, err := st.Messages(ctx, mb.ID)
						if err != nil {
							return err
						}
						for _, m := range msgs {
							body, err := st.MessageBody(ctx, m.ID)
							if err != nil {
								return err
							}
							from, subject := summary(body)
							fmt.Fprintf(env.Stdout, "%d\t%s\t%d\t%s\t%s\t%s\n", m.UID, m.InternalDate.Format("2006-01-02 15:04:05"),
								m.Size, strings.Join(m.Flags, " "), from, subject)
						}
						return nil
					})
				},
			},
			{
				name:    "count",
				summary: "print the number of messages in a mailbox",
				usage:   "[-config FILE | -data-dir DIR] [-mailbox NAME] ACCOUNT",
				flags:   flags,
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					if fs.NArg() != 1 {
						return usagef("name exactly one account")
					}
					return withMailbox(ctx, env, &sf, fs.Arg(0), mailbox, func(st store.Store, mb store.Mailbox) error {
						s, err := st.MailboxStatus(ctx, mb.ID)
						if err != nil {
							return err
						}
						fmt.Fprintln(env.Stdout, s.Messages)
						return nil
					})
				},
			},
			{
				name:    "show",
				summary: "print one message exactly as stored",
				usage:   "[-config FILE | -data-dir DIR] [-mailbox NAME] ACCOUNT UID",
				flags:   flags,
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					if fs.NArg() != 2 {
						return usagef("name an account and a UID")
					}
					uid, err := strconv.ParseUint(fs.Arg(1), 10, 32)
					if err != nil || uid == 0 {
						return usagef("%q is not a UID", fs.Arg(1))
					}
					return withMailbox(ctx, env, &sf, fs.Arg(0), mailbox, func(st store.Store, mb store.Mailbox) error {
						msgs, err := st.Messages(ctx, mb.ID)
						if err != nil {
							return err
						}
						for _, m := range msgs {
							if m.UID == uint32(uid) {
								body, err := st.MessageBody(ctx, m.ID)
								if err != nil {
									return err
								}
								_, err = env.Stdout.Write(body)
								return err
							}
						}
						return fmt.Errorf("no message with UID %d in %s", uid, mb.Name)
					})
				},
			},
		},
	}
}

func withMailbox(ctx context.Context, env *Env, sf *storeFlags, account, mailbox string, f func(store.Store, store.Mailbox) error) error {
	addr, err := canonical(account)
	if err != nil {
		return err
	}
	return sf.withStore(ctx, env, func(st store.Store) error {
		a, err := st.Account(ctx, addr)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no account %s", addr)
		}
		if err != nil {
			return err
		}
		mb, err := st.Mailbox(ctx, a.ID, mailbox)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("account %s has no mailbox %q", addr, mailbox)
		}
		if err != nil {
			return err
		}
		return f(st, mb)
	})
}

// summary returns the decoded From and Subject of a message, for listings.
func summary(msg []byte) (from, subject string) {
	h, _ := textproto.NewReader(bufio.NewReader(bytes.NewReader(msg))).ReadMIMEHeader()
	dec := new(mime.WordDecoder)
	decode := func(s string) string {
		if d, err := dec.DecodeHeader(s); err == nil {
			return d
		}
		return s
	}
	return decode(h.Get("From")), decode(h.Get("Subject"))
}
