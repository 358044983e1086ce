package cli

import (
	"bytes"
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/posthorn/posthorn/internal/config"
	"github.com/posthorn/posthorn/internal/daemon"
	"github.com/posthorn/posthorn/internal/dkim"
	"github.com/posthorn/posthorn/internal/queue"
	"github.com/posthorn/posthorn/internal/store"
)

func queueCommand() *command {
	var sf storeFlags
	var all, bounce bool
	idFlags := func(fs *flag.FlagSet) {
		sf.register(fs)
		fs.BoolVar(&all, "all", false, "every queued message")
	}
	// each runs f on the messages named by ID (or -all).
	each := func(ctx context.Context, env *Env, fs *flag.FlagSet, f func(st store.Store, id int64) (string, error)) error {
		if all == (fs.NArg() > 0) {
			return usagef("name message IDs, or -all")
		}
		var ids []int64
		for _, a := range fs.Args() {
			id, err := strconv.ParseInt(a, 10, 64)
			if err != nil || id <= 0 {
				return usagef("%q is not a queue ID", a)
			}
			ids = append(ids, id)
		}
		return sf.withStore(ctx, env, func(st store.Store) error {
			if all {
				ms, err := st.QueuedMessages(ctx, 0)
				if err != nil {
					return err
				}
				for _, m := range ms {
					ids = append(ids, m.ID)
				}
			}
			for _, id := range ids {
				what, err := f(st, id)
				if err != nil {
					return fmt.Errorf("message %d: %w", id, err)
				}
				fmt.Fprintf(env.Stdout, "%s %d\n", what, id)
			}
			return nil
		})
	}
	// simple are the commands that change the named messages one way.
	simple := func(name, summary, done string, f func(st store.Queue, ctx context.Context, id int64) error) *command {
		return &command{
			name:    name,
			summary: summary,
			usage:   "[-config FILE | -data-dir DIR] ID... | -all",
			flags:   idFlags,
			run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
				return each(ctx, env, fs, func(st store.Store, id int64) (string, error) { return done, f(st, ctx, id) })
			},
		}
	}
	return &command{
		name:    "queue",
		summary: "inspect and manage the outbound queue",
		sub: []*command{
			simple("retry", "try messages again now", "retrying", store.Queue.RetryQueued),
			simple("hold", "stop trying messages until released", "held", func(st store.Queue, ctx context.Context, id int64) error {
				return st.HoldQueued(ctx, id, true)
			}),
			simple("release", "release held messages; they are tried at once", "released", func(st store.Queue, ctx context.Context, id int64) error {
				return st.HoldQueued(ctx, id, false)
			}),
			{
				name:    "list",
				summary: "list queued messages: ID, state, lease holder, queued, size, attempts, next attempt, sender, pending recipients, last error",
				usage:   "[-config FILE | -data-dir DIR]",
				flags:   sf.register,
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					if fs.NArg() != 0 {
						return usagef("takes no arguments")
					}
					return sf.withStore(ctx, env, func(st store.Store) error {
						ms, err := st.QueuedMessages(ctx, 0)
						if err != nil {
							return err
						}
						now := time.Now()
						for _, m := range ms {
							fmt.Fprintf(env.Stdout, "%d\t%s\t%s\t%s\t%d\t%d\t%s\t<%s>\t%s\t%s\n", m.ID, queueState(m, now), leaseHolder(m, now),
								m.Queued.Local().Format("2006-01-02 15:04:05"), m.Size, m.Attempts,
								m.NextAttempt.Local().Format("2006-01-02 15:04:05"), m.From, strings.Join(m.Recipients, ","), m.LastError)
						}
						return nil
					})
				},
			},
			{
				name:    "summary",
				summary: "count queued messages by state and pending recipients by destination domain",
				usage:   "[-config FILE | -data-dir DIR]",
				flags:   sf.register,
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					if fs.NArg() != 0 {
						return usagef("takes no arguments")
					}
					return sf.withStore(ctx, env, func(st store.Store) error {
						ms, err := st.QueuedMessages(ctx, 0)
						if err != nil {
							return err
						}
						writeSummary(env.Stdout, ms, time.Now())
						return nil
					})
				},
			},
			{
				name:    "show",
				summary: "show one queued message: envelope, every recipient's state and last reply, and its header",
				usage:   "[-config FILE | -data-dir DIR] ID",
				flags:   sf.register,
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					if fs.NArg() != 1 {
						return usagef("name one queue ID")
					}
					id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
					if err != nil {
						return usagef("%q is not a queue ID", fs.Arg(0))
					}
					return sf.withStore(ctx, env, func(st store.Store) error {
						m, err := st.QueuedMessage(ctx, id)
						if err != nil {
							return err
						}
						body, err := st.QueuedBody(ctx, id)
						if err != nil {
							return err
						}
						showQueued(env.Stdout, m, body, time.Now())
						return nil
					})
				},
			},
			{
				name:    "delete",
				summary: "remove messages from the queue, silently or with a bounce to the sender",
				usage:   "[-config FILE | -data-dir DIR] [-bounce] ID... | -all",
				help: `Without -bounce the messages disappear without a word to their senders.
With -bounce each sender gets a delivery status notification (RFC 3464)
saying that the recipients still pending failed: 5.0.0, deleted by the
administrator.`,
				flags: func(fs *flag.FlagSet) {
					idFlags(fs)
					fs.BoolVar(&bounce, "bounce", false, "tell the senders their messages failed")
				},
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					hostname, sep := queueIdentity(env, &sf)
					var signer queue.Signer
					// Warnings (no DKIM key for the host name's domain, so
					// the bounces go unsigned) go to stderr.
					warn := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
					if bounce {
						signer = bounceSigner(env, &sf)
					}
					return each(ctx, env, fs, func(st store.Store, id int64) (string, error) {
						if bounce {
							return "bounced and deleted", queue.Bounce(ctx, st, hostname, sep, id, queue.ReplyDeleted, signer, warn)
						}
						return "deleted", st.RemoveQueued(ctx, id)
					})
				},
			},
		},
	}
}

// queueIdentity returns the host name and subaddress separator of the
// configuration, or the machine's name and "+" without one.
func queueIdentity(env *Env, sf *storeFlags) (hostname, sep string) {
	if cfg, err := config.Load(configPath(env, sf.config)); err == nil {
		return cfg.Hostname, cfg.SubaddressSeparator
	}
	h, _ := os.Hostname()
	return h, config.Default().SubaddressSeparator
}

// bounceSigner signs the bounces of queue delete -bounce with the data
// directory's DKIM keys, as the daemon's queue worker does; nil (unsigned,
// said on stderr) when the keys cannot be read. Without a key for the host
// name's domain or its parents, Bounce says so on stderr.
func bounceSigner(env *Env, sf *storeFlags) queue.Signer {
	dir, err := sf.dir(env)
	if err != nil {
		return nil // each reports the store's error
	}
	s, err := dkim.NewDirSigner(daemon.DKIMKeys(dir), dkim.SignOptions{}, 0)
	if err != nil {
		fmt.Fprintf(env.Stderr, "posthorn: DKIM keys: %v; bounces go unsigned\n", err)
		return nil
	}
	return s
}

// queueState names where a message stands.
func queueState(m store.QueuedMessage, now time.Time) string {
	switch {
	case m.Held:
		return "held"
	case m.Lease != 0 && m.NextAttempt.After(now):
		return "active"
	case m.Attempts > 0:
		return "deferred"
	}
	return "queued"
}

// leaseHolder is the list's lease column: the node holding m's lease,
// "expired:NODE" when the lease ran out unfinished (the node died or lost
// the database; the message is due), "-" without a lease.
func leaseHolder(m store.QueuedMessage, now time.Time) string {
	switch {
	case m.Lease == 0:
		return "-"
	case !m.NextAttempt.After(now):
		return "expired:" + cmp.Or(m.LeaseHolder, "?")
	}
	return cmp.Or(m.LeaseHolder, "?")
}

func writeSummary(w io.Writer, ms []store.QueuedMessage, now time.Time) {
	states := map[string]int{}
	type dest struct {
		msgs, rcpts int
		oldest      time.Time
	}
	dests := map[string]*dest{}
	var size int64
	for _, m := range ms {
		states[queueState(m, now)]++
		size += m.Size
		seen := map[string]bool{}
		for _, r := range m.Recipients {
			d := strings.ToLower(r[strings.LastIndexByte(r, '@')+1:])
			ds := dests[d]
			if ds == nil {
				ds = &dest{oldest: m.Queued}
				dests[d] = ds
			}
			ds.rcpts++
			if !seen[d] {
				ds.msgs++
				seen[d] = true
			}
			if m.Queued.Before(ds.oldest) {
				ds.oldest = m.Queued
			}
		}
	}
	fmt.Fprintf(w, "messages: %d (%d bytes)\n", len(ms), size)
	for _, s := range []string{"queued", "active", "deferred", "held"} {
		fmt.Fprintf(w, "  %-9s %d\n", s+":", states[s])
	}
	names := make([]string, 0, len(dests))
	for d := range dests {
		names = append(names, d)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := dests[names[i]], dests[names[j]]
		if a.rcpts != b.rcpts {
			return a.rcpts > b.rcpts
		}
		return names[i] < names[j]
	})
	fmt.Fprintf(w, "destinations: %d\n", len(names))
	for _, n := range names {
		d := dests[n]
		fmt.Fprintf(w, "  %s\t%d messages\t%d recipients\toldest %s\n", n, d.msgs, d.rcpts, now.Sub(d.oldest).Round(time.Second))
	}
}

func showQueued(w io.Writer, m store.QueuedMessage, body []byte, now time.Time) {
	fmt.Fprintf(w, "ID:           %d\n", m.ID)
	fmt.Fprintf(w, "State:        %s\n", queueState(m, now))
	fmt.Fprintf(w, "From:         <%s>\n", m.From)
	fmt.Fprintf(w, "Queued:       %s\n", m.Queued.Local().Format(time.RFC1123Z))
	fmt.Fprintf(w, "Size:         %d\n", m.Size)
	fmt.Fprintf(w, "Attempts:     %d\n", m.Attempts)
	fmt.Fprintf(w, "Next attempt: %s\n", m.NextAttempt.Local().Format(time.RFC1123Z))
	if m.Lease != 0 {
		// A claimed message's NextAttempt is its lease's end.
		holder, end := cmp.Or(m.LeaseHolder, "an unnamed node"), m.NextAttempt.Local().Format(time.RFC1123Z)
		if m.NextAttempt.After(now) {
			fmt.Fprintf(w, "Lease:        held by %s until %s\n", holder, end)
		} else {
			fmt.Fprintf(w, "Lease:        of %s, ran out unfinished at %s\n", holder, end)
		}
	}
	fmt.Fprintf(w, "SMTPUTF8:     %v\n", m.UTF8)
	fmt.Fprintf(w, "REQUIRETLS:   %v\n", m.RequireTLS)
	if m.LastError != "" {
		fmt.Fprintf(w, "Last error:   %s\n", m.LastError)
	}
	fmt.Fprintf(w, "Recipients:\n")
	for _, r := range m.Status {
		fmt.Fprintf(w, "  <%s>\t%s\t%s\n", r.Address, r.State, r.Reply)
	}
	fmt.Fprintf(w, "\n")
	if i := bytes.Index(body, []byte("\r\n\r\n")); i >= 0 {
		body = body[:i+2]
	}
	w.Write(bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n")))
}
