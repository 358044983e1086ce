package mx

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/posthorn/posthorn/internal/compose"
	"github.com/posthorn/posthorn/internal/smtpserver"
	"github.com/posthorn/posthorn/internal/store"
)

// Inbound routes (package compose): a recipient that matches a route is
// accepted even without an account; at the end of DATA the message is
// parsed once and one "inbound" event per routed recipient, addressed to
// the route's webhook endpoint and carrying compose.RoutePayload, is
// written in the same durable commit as the mailbox delivery (store.Deliver
// with Events) or, when nothing is stored, alone (store.RecordEvents).
// Either way it is durable before the 250. A route with Keep also stores
// the message for the address's account, when there is one.

// RouteMatcher finds the inbound route of a canonical recipient address
// (compose.Router).
type RouteMatcher interface {
	Match(ctx context.Context, addr string) (store.WebhookEndpoint, bool, error)
}

type routedRcpt struct {
	addr string
	ep   store.WebhookEndpoint
}

// matchRoute looks canon up in the routes (none when Options.Routes is nil).
func (s *session) matchRoute(ctx context.Context, canon string) (store.WebhookEndpoint, bool, error) {
	if s.b.opts.Routes == nil {
		return store.WebhookEndpoint{}, false, nil
	}
	return s.b.opts.Routes.Match(ctx, canon)
}

// routeOnly reports whether a routed recipient is taken by its route alone:
// the route does not keep a copy, or there is no account to keep it for.
func routeOnly(ep store.WebhookEndpoint, resolveErr error) bool {
	return resolveErr == nil && !ep.Keep || errors.Is(resolveErr, store.ErrNotFound)
}

// acceptRouted accepts a recipient that only its route takes.
func (s *session) acceptRouted(ctx context.Context, canon, addr string, ep store.WebhookEndpoint) error {
	if s.greylisted(ctx, canon) {
		return replyGreylisted
	}
	s.addRouted(canon, ep)
	s.rcpts = append(s.rcpts, addr)
	return nil
}

// addRouted notes a routed recipient once, however often RCPT names it.
func (s *session) addRouted(canon string, ep store.WebhookEndpoint) {
	for _, r := range s.routed {
		if r.addr == canon {
			return
		}
	}
	s.routed = append(s.routed, routedRcpt{addr: canon, ep: ep})
}

// routeEvents parses the stored form of the message and returns the
// inbound events of the routed recipients.
func (s *session) routeEvents(msg *smtpserver.Message, full []byte, now time.Time) ([]store.Event, error) {
	if len(s.routed) == 0 {
		return nil, nil
	}
	var parsed json.RawMessage = []byte("null")
	if in, err := compose.Parse(full, compose.Limits{}); err == nil {
		if parsed, err = json.Marshal(in); err != nil {
			return nil, err
		}
	}
	tracking := store.NewTrackingID()
	env := compose.Envelope{MailFrom: s.from, Helo: msg.Helo}
	if ip := s.rc.IP; ip != nil {
		env.RemoteIP = ip.String()
	}
	evs := make([]store.Event, 0, len(s.routed))
	for _, r := range s.routed {
		env.RcptTo = r.addr
		data, err := compose.RouteData(r.ep.Pattern, env, parsed)
		if err != nil {
			return nil, err
		}
		evs = append(evs, store.Event{
			Time:      now,
			Type:      store.EventInbound,
			Domain:    domainOf(r.addr),
			Message:   tracking,
			Recipient: r.addr,
			Data:      data,
			Endpoint:  r.ep.ID,
		})
	}
	return evs, nil
}

func domainOf(addr string) string { return addr[strings.LastIndexByte(addr, '@')+1:] }
