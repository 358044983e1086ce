package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/posthorn/posthorn/internal/store"
)

func webhookCommand() *command {
	var sf storeFlags
	var events string
	var limit int
	endpointArg := func(fs *flag.FlagSet) (int64, error) {
		if fs.NArg() != 1 {
			return 0, usagef("name one endpoint id")
		}
		id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
		if err != nil {
			return 0, usagef("%q is not an endpoint id", fs.Arg(0))
		}
		return id, nil
	}
	// webhookOnly finds an endpoint that is not an inbound route.
	webhookOnly := func(ctx context.Context, st store.Store, id int64) (store.WebhookEndpoint, error) {
		ep, err := st.WebhookEndpoint(ctx, id)
		if errors.Is(err, store.ErrNotFound) || err == nil && ep.Pattern != "" {
			return store.WebhookEndpoint{}, fmt.Errorf("no webhook endpoint %d", id)
		}
		return ep, err
	}
	setEnabled := func(enabled bool) func(context.Context, *Env, *flag.FlagSet) error {
		return func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
			id, err := endpointArg(fs)
			if err != nil {
				return err
			}
			return sf.withStore(ctx, env, func(st store.Store) error {
				if _, err := webhookOnly(ctx, st, id); err != nil {
					return err
				}
				if err := st.SetWebhookEnabled(ctx, id, enabled); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "webhook endpoint %d %s\n", id, map[bool]string{true: "enabled", false: "disabled"}[enabled])
				return nil
			})
		}
	}
	return &command{
		name:    "webhook",
		summary: "add, list and remove webhook endpoints (events POSTed as signed JSON)",
		sub: []*command{
			{
				name:    "add",
				summary: "post DOMAIN's events to URL",
				usage:   "[-config FILE | -data-dir DIR] [-events TYPE,...] DOMAIN URL",
				help: `Every event of DOMAIN (queued, delivered, deferred, bounced, suppressed,
inbound), or only the types given with -events, is POSTed to URL as JSON,
signed with HMAC-SHA256 (see the README), retried with backoff for 24 hours
until the URL answers 2xx. Any http or https URL is accepted, loopback and
private addresses included: whoever may add endpoints can make the server
send requests into its own network. The signing secret is printed once.`,
				flags: func(fs *flag.FlagSet) {
					sf.register(fs)
					fs.StringVar(&events, "events", "", "comma-separated event types (default: all)")
				},
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					if fs.NArg() != 2 {
						return usagef("name a domain and a URL")
					}
					domain, err := canonicalDomain(fs.Arg(0))
					if err != nil {
						return err
					}
					var types []store.EventType
					for _, t := range strings.Split(events, ",") {
						if t = strings.TrimSpace(t); t == "" {
							continue
						}
						if !store.EventType(t).Valid() {
							return fmt.Errorf("unknown event type %q (known: %s)", t, eventTypeList())
						}
						types = append(types, store.EventType(t))
					}
					return sf.withStore(ctx, env, func(st store.Store) error {
						ep, err := st.AddWebhookEndpoint(ctx, store.WebhookEndpoint{Domain: domain, URL: fs.Arg(1), Types: types, Enabled: true})
						switch {
						case errors.Is(err, store.ErrUnknownDomain):
							return fmt.Errorf("domain %s is not served here; add it first with 'posthorn domain add'", domain)
						case errors.Is(err, store.ErrInvalid):
							return fmt.Errorf("%q is not an absolute http or https URL", fs.Arg(1))
						case err != nil:
							return err
						}
						fmt.Fprintf(env.Stdout, "added webhook endpoint %d: %s -> %s (%s)\nsecret: %s\n", ep.ID, ep.Domain, ep.URL, typesNote(ep.Types), ep.Secret)
						return nil
					})
				},
			},
			{
				name:    "list",
				summary: "list webhook endpoints, of one domain or of all",
				usage:   "[-config FILE | -data-dir DIR] [DOMAIN]",
				flags:   sf.register,
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					if fs.NArg() > 1 {
						return usagef("name at most one domain")
					}
					domain := ""
					if fs.NArg() == 1 {
						d, err := canonicalDomain(fs.Arg(0))
						if err != nil {
							return err
						}
						domain = d
					}
					return sf.withStore(ctx, env, func(st store.Store) error {
						eps, err := st.WebhookEndpoints(ctx, domain)
						if err != nil {
							return err
						}
						for _, ep := range eps {
							if ep.Pattern != "" {
								continue // an inbound route: posthorn route list
							}
							state := ""
							if !ep.Enabled {
								state = " (disabled)"
							}
							fmt.Fprintf(env.Stdout, "%d %s -> %s (%s)%s\n", ep.ID, ep.Domain, ep.URL, typesNote(ep.Types), state)
						}
						return nil
					})
				},
			},
			{
				name:    "rm",
				summary: "remove a webhook endpoint (its pending deliveries are dropped)",
				usage:   "[-config FILE | -data-dir DIR] ID",
				flags:   sf.register,
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					id, err := endpointArg(fs)
					if err != nil {
						return err
					}
					return sf.withStore(ctx, env, func(st store.Store) error {
						ep, err := webhookOnly(ctx, st, id)
						if err != nil {
							return err
						}
						if err := st.RemoveWebhookEndpoint(ctx, id); err != nil {
							return err
						}
						fmt.Fprintf(env.Stdout, "removed webhook endpoint %d: %s -> %s\n", ep.ID, ep.Domain, ep.URL)
						return nil
					})
				},
			},
			{name: "disable", summary: "stop posting to an endpoint (deliveries wait)", usage: "[-config FILE | -data-dir DIR] ID", flags: sf.register, run: setEnabled(false)},
			{name: "enable", summary: "resume posting to an endpoint", usage: "[-config FILE | -data-dir DIR] ID", flags: sf.register, run: setEnabled(true)},
			{
				name:    "deliveries",
				summary: "show an endpoint's latest deliveries and their state",
				usage:   "[-config FILE | -data-dir DIR] [-n N] ID",
				flags: func(fs *flag.FlagSet) {
					sf.register(fs)
					fs.IntVar(&limit, "n", 20, "how many, newest first")
				},
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					id, err := endpointArg(fs)
					if err != nil {
						return err
					}
					return sf.withStore(ctx, env, func(st store.Store) error {
						if _, err := st.WebhookEndpoint(ctx, id); err != nil {
							return fmt.Errorf("no webhook endpoint %d", id)
						}
						ds, err := st.WebhookDeliveries(ctx, id, limit)
						if err != nil {
							return err
						}
						for _, d := range ds {
							fmt.Fprintf(env.Stdout, "%s %s %s %s attempts=%d", d.Event.Time.Format("2006-01-02T15:04:05Z"), d.Event.ID, d.Event.Type, d.State, d.Attempts)
							if d.State == store.WebhookPending && d.Attempts > 0 {
								fmt.Fprintf(env.Stdout, " next=%s", d.NextAttempt.Format("2006-01-02T15:04:05Z"))
							}
							if d.LastError != "" {
								fmt.Fprintf(env.Stdout, " error=%q", d.LastError)
							}
							fmt.Fprintln(env.Stdout)
						}
						return nil
					})
				},
			},
		},
	}
}

func typesNote(types []store.EventType) string {
	if len(types) == 0 {
		return "all events"
	}
	s := make([]string, len(types))
	for i, t := range types {
		s[i] = string(t)
	}
	return strings.Join(s, ",")
}

func eventTypeList() string { return typesNote(store.EventTypes) }
