package storecopy

import (
	"context"
	"fmt"
	"strings"
)

// Sink receives a store's records in the order the package doc gives. A
// record's slices are only valid during the call (an exporter may reuse
// them): a Sink that keeps a record past the call copies what it keeps.
// An error stops the export and is returned by it.
type Sink interface {
	Meta(ctx context.Context, m Meta) error
	Domain(ctx context.Context, d Domain) error
	Account(ctx context.Context, a Account) error
	AppPassword(ctx context.Context, p AppPassword) error
	Alias(ctx context.Context, a Alias) error
	Mailbox(ctx context.Context, m Mailbox) error
	Body(ctx context.Context, b Body) error
	Message(ctx context.Context, m Message) error
	Change(ctx context.Context, c Change) error
	Queued(ctx context.Context, q Queued) error
	Event(ctx context.Context, e Event) error
	Suppression(ctx context.Context, s Suppression) error
	WebhookEndpoint(ctx context.Context, e WebhookEndpoint) error
	WebhookDelivery(ctx context.Context, d WebhookDelivery) error
	APIKey(ctx context.Context, k APIKey) error
	Idempotency(ctx context.Context, r Idempotency) error
}

// An Exporter writes a whole store to a Sink from one consistent snapshot
// ((*sqlite.Store).Export).
type Exporter func(ctx context.Context, sink Sink) error

// Counts are how many records of each kind went through a Sink.
type Counts struct {
	Domains, Accounts, AppPasswords, Aliases, Mailboxes int
	Bodies                                              int
	BodyBytes                                           int64
	Messages, Changes, Queued, Events, Suppressions     int
	WebhookEndpoints, WebhookDeliveries                 int
	APIKeys, Idempotency                                int
}

// String is a one-line summary, for the command's output.
func (c Counts) String() string {
	var b strings.Builder
	for _, f := range []struct {
		name string
		n    int
	}{
		{"domains", c.Domains}, {"accounts", c.Accounts}, {"app passwords", c.AppPasswords},
		{"aliases", c.Aliases}, {"mailboxes", c.Mailboxes}, {"messages", c.Messages},
		{"bodies", c.Bodies}, {"change-log entries", c.Changes}, {"queued", c.Queued},
		{"events", c.Events}, {"suppressions", c.Suppressions}, {"webhook endpoints", c.WebhookEndpoints},
		{"webhook deliveries", c.WebhookDeliveries}, {"API keys", c.APIKeys}, {"idempotency records", c.Idempotency},
	} {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d %s", f.n, f.name)
	}
	fmt.Fprintf(&b, " (%d body bytes)", c.BodyBytes)
	return b.String()
}

// Counter is a Sink that counts the records it passes on to Next (which
// may be nil: count only).
type Counter struct {
	Next   Sink
	Counts Counts
}

var _ Sink = (*Counter)(nil)

func pass[T any](ctx context.Context, n *int, next Sink, f func(Sink, context.Context, T) error, r T) error {
	*n++
	if next == nil {
		return nil
	}
	return f(next, ctx, r)
}

func (c *Counter) Meta(ctx context.Context, m Meta) error {
	if c.Next == nil {
		return nil
	}
	return c.Next.Meta(ctx, m)
}
func (c *Counter) Domain(ctx context.Context, d Domain) error {
	return pass(ctx, &c.Counts.Domains, c.Next, Sink.Domain, d)
}
func (c *Counter) Account(ctx context.Context, a Account) error {
	return pass(ctx, &c.Counts.Accounts, c.Next, Sink.Account, a)
}
func (c *Counter) AppPassword(ctx context.Context, p AppPassword) error {
	return pass(ctx, &c.Counts.AppPasswords, c.Next, Sink.AppPassword, p)
}
func (c *Counter) Alias(ctx context.Context, a Alias) error {
	return pass(ctx, &c.Counts.Aliases, c.Next, Sink.Alias, a)
}
func (c *Counter) Mailbox(ctx context.Context, m Mailbox) error {
	return pass(ctx, &c.Counts.Mailboxes, c.Next, Sink.Mailbox, m)
}
func (c *Counter) Body(ctx context.Context, b Body) error {
	c.Counts.BodyBytes += int64(len(b.Data))
	return pass(ctx, &c.Counts.Bodies, c.Next, Sink.Body, b)
}
func (c *Counter) Message(ctx context.Context, m Message) error {
	return pass(ctx, &c.Counts.Messages, c.Next, Sink.Message, m)
}
func (c *Counter) Change(ctx context.Context, ch Change) error {
	return pass(ctx, &c.Counts.Changes, c.Next, Sink.Change, ch)
}
func (c *Counter) Queued(ctx context.Context, q Queued) error {
	return pass(ctx, &c.Counts.Queued, c.Next, Sink.Queued, q)
}
func (c *Counter) Event(ctx context.Context, e Event) error {
	return pass(ctx, &c.Counts.Events, c.Next, Sink.Event, e)
}
func (c *Counter) Suppression(ctx context.Context, s Suppression) error {
	return pass(ctx, &c.Counts.Suppressions, c.Next, Sink.Suppression, s)
}
func (c *Counter) WebhookEndpoint(ctx context.Context, e WebhookEndpoint) error {
	return pass(ctx, &c.Counts.WebhookEndpoints, c.Next, Sink.WebhookEndpoint, e)
}
func (c *Counter) WebhookDelivery(ctx context.Context, d WebhookDelivery) error {
	return pass(ctx, &c.Counts.WebhookDeliveries, c.Next, Sink.WebhookDelivery, d)
}
func (c *Counter) APIKey(ctx context.Context, k APIKey) error {
	return pass(ctx, &c.Counts.APIKeys, c.Next, Sink.APIKey, k)
}
func (c *Counter) Idempotency(ctx context.Context, r Idempotency) error {
	return pass(ctx, &c.Counts.Idempotency, c.Next, Sink.Idempotency, r)
}
