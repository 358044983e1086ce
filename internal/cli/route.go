package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"

	"github.com/posthorn/posthorn/internal/compose"
	"github.com/posthorn/posthorn/internal/store"
)

func routeCommand() *command {
	var sf storeFlags
	var keep bool
	return &command{
		name:    "route",
		summary: "add, list and remove inbound routes (mail to an address posted as JSON to a URL)",
		sub: []*command{
			{
				name:    "add",
				summary: "post mail for PATTERN to URL as signed JSON",
				usage:   "[-config FILE | -data-dir DIR] [-keep] PATTERN URL",
				help: `PATTERN is an address of a served domain (support@example.org), a prefix
(reply+*@example.org: every local part starting with "reply+"), or a whole
domain (*@example.org); the most specific route wins. Mail to a routed
address is accepted even without an account, parsed (headers, text, html,
attachments) and POSTed to URL as an "inbound" event, signed and retried
like webhooks. With -keep it is also stored in the address's account, if
there is one. The signing secret is printed once.`,
				flags: func(fs *flag.FlagSet) {
					sf.register(fs)
					fs.BoolVar(&keep, "keep", false, "also store the message in the address's mailbox")
				},
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					if fs.NArg() != 2 {
						return usagef("name a pattern and a URL")
					}
					p, err := compose.ParsePattern(fs.Arg(0))
					if err != nil {
						return err
					}
					return sf.withStore(ctx, env, func(st store.Store) error {
						eps, err := st.WebhookEndpoints(ctx, p.Domain)
						if err != nil {
							return err
						}
						for _, ep := range eps {
							if ep.Pattern == p.String() {
								return fmt.Errorf("route %s exists (id %d); remove it first", p, ep.ID)
							}
						}
						ep, err := st.AddWebhookEndpoint(ctx, store.WebhookEndpoint{
							Domain: p.Domain, URL: fs.Arg(1), Pattern: p.String(), Keep: keep, Enabled: true})
						switch {
						case errors.Is(err, store.ErrUnknownDomain):
							return fmt.Errorf("domain %s is not served here; add it first with 'posthorn domain add'", p.Domain)
						case errors.Is(err, store.ErrInvalid):
							return fmt.Errorf("%q is not an absolute http or https URL", fs.Arg(1))
						case err != nil:
							return err
						}
						fmt.Fprintf(env.Stdout, "added route %d: %s -> %s%s\nsecret: %s\n", ep.ID, ep.Pattern, ep.URL, keepNote(ep.Keep), ep.Secret)
						return nil
					})
				},
			},
			{
				name:    "list",
				summary: "list inbound routes, of one domain or of all",
				usage:   "[-config FILE | -data-dir DIR] [DOMAIN]",
				flags:   sf.register,
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					domain, err := optionalDomain(fs)
					if err != nil {
						return err
					}
					return sf.withStore(ctx, env, func(st store.Store) error {
						eps, err := st.WebhookEndpoints(ctx, domain)
						if err != nil {
							return err
						}
						for _, ep := range eps {
							if ep.Pattern == "" {
								continue // a webhook endpoint, not a route
							}
							state := ""
							if !ep.Enabled {
								state = " (disabled)"
							}
							fmt.Fprintf(env.Stdout, "%d %s -> %s%s%s\n", ep.ID, ep.Pattern, ep.URL, keepNote(ep.Keep), state)
						}
						return nil
					})
				},
			},
			{
				name:    "rm",
				summary: "remove an inbound route (pending posts to it are dropped)",
				usage:   "[-config FILE | -data-dir DIR] ID|PATTERN",
				flags:   sf.register,
				run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
					if fs.NArg() != 1 {
						return usagef("name one route, by id or pattern")
					}
					return sf.withStore(ctx, env, func(st store.Store) error {
						ep, err := findRoute(ctx, st, fs.Arg(0))
						if err != nil {
							return err
						}
						if err := st.RemoveWebhookEndpoint(ctx, ep.ID); err != nil {
							return err
						}
						fmt.Fprintf(env.Stdout, "removed route %d: %s\n", ep.ID, ep.Pattern)
						return nil
					})
				},
			},
		},
	}
}

func keepNote(keep bool) string {
	if keep {
		return " (keep)"
	}
	return ""
}

// findRoute finds a route by id or by pattern.
func findRoute(ctx context.Context, st store.Store, arg string) (store.WebhookEndpoint, error) {
	if id, err := strconv.ParseInt(arg, 10, 64); err == nil {
		ep, err := st.WebhookEndpoint(ctx, id)
		if errors.Is(err, store.ErrNotFound) || err == nil && ep.Pattern == "" {
			return store.WebhookEndpoint{}, fmt.Errorf("no route %d", id)
		}
		return ep, err
	}
	p, err := compose.ParsePattern(arg)
	if err != nil {
		return store.WebhookEndpoint{}, err
	}
	eps, err := st.WebhookEndpoints(ctx, p.Domain)
	if err != nil {
		return store.WebhookEndpoint{}, err
	}
	for _, ep := range eps {
		if ep.Pattern == p.String() {
			return ep, nil
		}
	}
	return store.WebhookEndpoint{}, fmt.Errorf("no route %s", p)
}
