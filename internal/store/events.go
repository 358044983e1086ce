package store

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Events is message tracking for applications: an append-only log of what
// happened to the mail of a domain (queued, delivered, deferred, bounced,
// suppressed, inbound), the per-domain suppression list, webhook endpoints
// and the durable outbox of webhook deliveries.
//
// Atomicity is the rule that makes the log trustworthy: an event is
// written in the same transaction as the state change it reports, so after
// any crash an event exists if and only if its change committed. Enqueue
// writes "queued" events (and QueuedMessage.Events), FinishAttempt writes
// "delivered", "deferred" and "bounced" events (and adds hard bounces to
// the suppression list), Deliver writes Delivery.Events ("inbound", or
// "delivered" for local recipients of a send). Every event written also
// writes, in that transaction, one webhook delivery per matching endpoint
// (the outbox): a webhook worker can never miss an event nor send one whose
// change was rolled back.
//
// Events belong to the domain they were written for (Event.Domain) and are
// only ever read per domain. Messages carry a tracking id (NewTrackingID)
// that names them in events, in MessageStatus, and in the HTTP API.
type Events interface {
	// RecordEvents appends events that are not part of another write (a
	// "suppressed" refusal at send time when no recipient is left to
	// queue), with their webhook deliveries, in one durable commit. Each
	// event needs a Domain and a known Type (ErrInvalid); zero Time is
	// now; ID and Seq are set by the backend. It returns the stored
	// events.
	RecordEvents(ctx context.Context, evs []Event) ([]Event, error)
	// QueryEvents lists a domain's events matching f, in the order f asks
	// for (ascending Seq by default). See EventFilter.
	QueryEvents(ctx context.Context, f EventFilter) ([]Event, error)
	// MessageStatus is where each recipient of one message stands,
	// derived from the message's events: the last event of each recipient
	// decides (inbound events excluded). ErrNotFound when the domain has
	// no event for the tracking id (never sent, or pruned), and, when
	// submitter is not "", when the message's events do not carry that
	// Submitter (not sent as that address: the same answer, so that it
	// does not learn the message exists).
	MessageStatus(ctx context.Context, domain, trackingID, submitter string) (MessageStatus, error)
	// PruneEvents deletes the events written before before, and webhook
	// deliveries finished (delivered or given up) before before. Pending
	// deliveries keep their event alive. It returns the number of events
	// removed.
	PruneEvents(ctx context.Context, before time.Time) (int64, error)

	// Suppressed returns the entries of the domain's suppression list
	// for those of addrs that are on it (in addrs order; addresses are
	// compared in canonical form, lower case). None: an empty slice.
	Suppressed(ctx context.Context, domain string, addrs []string) ([]Suppression, error)
	// Suppressions lists a domain's suppression list in address order,
	// the addresses after after (paging), up to limit (all when <= 0).
	Suppressions(ctx context.Context, domain string, after string, limit int) ([]Suppression, error)
	// AddSuppression puts an address on a domain's suppression list
	// (Reason and Created filled in when empty/zero; EventID may be 0).
	// An address already listed is ErrExists. The domain must be served
	// (ErrUnknownDomain).
	AddSuppression(ctx context.Context, s Suppression) error
	// RemoveSuppression takes an address off the list (ErrNotFound when
	// it is not on it).
	RemoveSuppression(ctx context.Context, domain, address string) error

	// AddWebhookEndpoint registers an endpoint for e.Domain (served:
	// ErrUnknownDomain). URL must be absolute http or https (ErrInvalid).
	// An empty Secret is generated (NewWebhookSecret); the returned
	// endpoint carries ID, Secret and Created. Types nil means every
	// event type. Endpoints with a Pattern are inbound routes: they only
	// receive events addressed to them (Event.Endpoint), never by type.
	AddWebhookEndpoint(ctx context.Context, e WebhookEndpoint) (WebhookEndpoint, error)
	// WebhookEndpoints lists the endpoints of a domain (all domains when
	// domain is ""), in ID order, secrets included.
	WebhookEndpoints(ctx context.Context, domain string) ([]WebhookEndpoint, error)
	// WebhookEndpoint returns one endpoint (ErrNotFound).
	WebhookEndpoint(ctx context.Context, id int64) (WebhookEndpoint, error)
	// SetWebhookEnabled enables or disables an endpoint. A disabled
	// endpoint gets no new deliveries and its pending ones wait (they are
	// not claimed) until it is enabled again or they are pruned.
	SetWebhookEnabled(ctx context.Context, id int64, enabled bool) error
	// RemoveWebhookEndpoint deletes an endpoint and its deliveries
	// (ErrNotFound).
	RemoveWebhookEndpoint(ctx context.Context, id int64) error
	// WebhookSubscribed reports whether an enabled endpoint of the domain
	// (without Pattern) takes events of type t. Callers use it to skip
	// building events nobody wants (inbound summaries at the MX); the
	// SQLite backend answers from memory, refreshed at most every two
	// seconds and at once after its own endpoint changes.
	WebhookSubscribed(ctx context.Context, domain string, t EventType) (bool, error)

	// ClaimWebhookDeliveries leases up to limit pending deliveries due at
	// now (NextAttempt <= now, no live lease, endpoint enabled) for the
	// duration lease, in NextAttempt order. Each comes with its event, the
	// endpoint's URL and secret, and a new Lease token; while the lease
	// lasts no other claim returns it (its NextAttempt is the lease's
	// end). On PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED.
	ClaimWebhookDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]WebhookDelivery, error)
	// FinishWebhookDelivery records one attempt of a claimed delivery and
	// ends the lease: Attempts grows by one, LastError is kept; State
	// WebhookDelivered or WebhookFailed finishes it, WebhookPending makes
	// it due again at r.NextAttempt. ErrLeaseLost when the lease is no
	// longer r.Lease; nothing changes then.
	FinishWebhookDelivery(ctx context.Context, r WebhookResult) error
	// WebhookDeliveries lists the deliveries of one endpoint, newest
	// first, up to limit (all when <= 0), with their events.
	WebhookDeliveries(ctx context.Context, endpointID int64, limit int) ([]WebhookDelivery, error)
}

// EventType is the kind of an event.
type EventType string

// Event types.
const (
	// EventQueued: a recipient was accepted for delivery (Enqueue).
	EventQueued EventType = "queued"
	// EventDelivered: the next hop accepted the message for the recipient
	// (Reply has its answer), or it was stored in a local mailbox.
	EventDelivered EventType = "delivered"
	// EventDeferred: an attempt failed temporarily; Reply is the last
	// error, NextAttempt the retry.
	EventDeferred EventType = "deferred"
	// EventBounced: the recipient failed permanently, or the queue gave
	// up; Reply is the reason.
	EventBounced EventType = "bounced"
	// EventSuppressed: a send to the recipient was refused because it is
	// on the domain's suppression list.
	EventSuppressed EventType = "suppressed"
	// EventInbound: a message was received for the domain; Data has a
	// summary (or, for an inbound route, the parsed message).
	EventInbound EventType = "inbound"
)

// EventTypes are all event types, in a stable order.
var EventTypes = []EventType{EventQueued, EventDelivered, EventDeferred, EventBounced, EventSuppressed, EventInbound}

// Valid reports whether t is a known event type.
func (t EventType) Valid() bool {
	for _, k := range EventTypes {
		if t == k {
			return true
		}
	}
	return false
}

// Event is one entry of a domain's event log.
type Event struct {
	// ID is unique across the store and never reused (receivers
	// deduplicate webhook deliveries by it): "ev_" and 26 base32
	// characters. Set by the backend.
	ID string `json:"id"`
	// Seq orders events: it only grows (the paging cursor). Set by the
	// backend.
	Seq  int64     `json:"-"`
	Time time.Time `json:"time"`
	Type EventType `json:"type"`
	// Domain owns the event: the sender domain of a sent message, the
	// recipient domain of an inbound one.
	Domain string `json:"domain"`
	// Message is the tracking id of the message.
	Message string `json:"message,omitempty"`
	// Submitter is the canonical envelope sender (smtp.Address.Canonical,
	// lower case) the message was submitted as, on every event of a sent
	// message (SMTP submission, the local socket, the HTTP API); "" on
	// inbound events and on events written before it was recorded. It
	// decides what a key limited to one address may see (EventFilter.Address):
	// the messages sent as that address, by whatever means.
	Submitter string `json:"-"`
	Recipient string `json:"recipient,omitempty"`
	// Reply is the remote server's answer (delivered, deferred) or the
	// reason (bounced, suppressed).
	Reply string `json:"reply,omitempty"`
	// NextAttempt is when a deferred recipient is tried again.
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	// Data is a JSON object (or nil): the message's tags and metadata
	// (QueuedMessage.EventData), an inbound summary, a route's payload.
	Data json.RawMessage `json:"data,omitempty"`
	// Endpoint, when nonzero, sends the event to that one webhook
	// endpoint (an inbound route) instead of to every subscribed one.
	Endpoint int64 `json:"-"`
}

// EventFilter selects events for QueryEvents. Zero fields select all.
type EventFilter struct {
	Domain    string // required
	Types     []EventType
	Message   string // tracking id
	Recipient string
	// Address, when set (a canonical address), keeps only what a key
	// limited to that address may see: events with Submitter = Address
	// (messages sent as it) and inbound events whose Recipient is Address
	// (compared in lower case).
	Address string
	// Since and Until bound Time (Since <= Time < Until).
	Since, Until time.Time
	// After is a paging cursor: only events with Seq > After (ascending)
	// or, with Newest, Seq < After when After > 0.
	After int64
	// Newest lists newest first.
	Newest bool
	// Limit caps the result (100 when <= 0; at most 1000).
	Limit int
}

// MessageStatus is where each recipient of a tracked message stands.
type MessageStatus struct {
	Domain  string
	Message string
	// Queued is the time of the message's first event.
	Queued     time.Time
	Recipients []RecipientEventStatus
}

// StatusOf folds the events of one message (domain, trackingID), in Seq
// order, into its MessageStatus: the last event of each recipient
// decides; inbound events and events without a recipient are left out.
// No events is ErrNotFound. Backends share it.
func StatusOf(domain, trackingID string, evs []Event) (MessageStatus, error) {
	if len(evs) == 0 {
		return MessageStatus{}, fmt.Errorf("message %q: %w", trackingID, ErrNotFound)
	}
	st := MessageStatus{Domain: domain, Message: trackingID, Queued: evs[0].Time}
	index := map[string]int{}
	for _, e := range evs {
		if e.Type == EventInbound || e.Recipient == "" {
			continue
		}
		r := RecipientEventStatus{Recipient: e.Recipient, Status: e.Type, Time: e.Time, Reply: e.Reply, NextAttempt: e.NextAttempt}
		if i, ok := index[e.Recipient]; ok {
			st.Recipients[i] = r
			continue
		}
		index[e.Recipient] = len(st.Recipients)
		st.Recipients = append(st.Recipients, r)
	}
	return st, nil
}

// RecipientEventStatus is one recipient's latest event.
type RecipientEventStatus struct {
	Recipient string
	// Status is the type of the recipient's latest event: queued,
	// delivered, deferred, bounced or suppressed.
	Status      EventType
	Time        time.Time
	Reply       string
	NextAttempt time.Time
}

// Suppression is one address on a domain's suppression list: sends to it
// are refused (and recorded as "suppressed" events).
type Suppression struct {
	Domain  string
	Address string
	// Reason: "hard bounce: <reply>" when a bounce added it, or what the
	// operator gave.
	Reason  string
	Created time.Time
	// EventID is the bounce event that added it ("" when added by hand).
	EventID string
}

// HardBounce reports whether a permanent failure reply means the address
// itself is bad, so that sending to it again is pointless and harms the
// sender's reputation: it goes on the suppression list. Only 5xx replies
// with these RFC 3463 enhanced codes count:
//
//	5.1.x  bad destination address: 5.1.1 no such mailbox, 5.1.2 no such
//	       domain (also our NXDOMAIN), 5.1.3 bad syntax, 5.1.6 moved,
//	       5.1.10 null MX (RFC 7505)
//	5.2.1  mailbox disabled
//
// Not counted: 5.7.x (policy, spam, authentication: about the message or
// the sender, not the address), 5.2.2 (mailbox full), 5.3.x/5.4.x/5.5.x/
// 5.6.x (system, routing, protocol, content), and replies without an
// enhanced code (their text is too varied to trust). Postmark and SES
// suppress on hard bounces the same way (address/domain unknown, mailbox
// disabled) and not on content or policy rejections; Mailgun also
// suppresses after repeated soft failures, which we do not.
func HardBounce(reply string) bool {
	code, rest, ok := strings.Cut(reply, " ")
	if !ok || len(code) != 3 || code[0] != '5' {
		return false
	}
	enh, _, _ := strings.Cut(rest, " ")
	return strings.HasPrefix(enh, "5.1.") && len(enh) > 4 || enh == "5.2.1"
}

// WebhookEndpoint is an application's URL that receives a domain's events
// as signed JSON POSTs (package webhook).
type WebhookEndpoint struct {
	ID     int64
	Domain string
	URL    string
	// Secret is the HMAC-SHA256 signing key, shown to the user once at
	// creation. It is stored as is: signing needs it.
	Secret string
	// Types filters the event types sent; nil means all.
	Types   []EventType
	Enabled bool
	// Pattern makes the endpoint an inbound route (package compose): the
	// recipient addresses it takes, matched by the MX. Routes receive only
	// events addressed to them (Event.Endpoint).
	Pattern string
	// Keep: an inbound route also stores the message in the mailbox.
	Keep    bool
	Created time.Time
}

// PrepareNew checks an endpoint about to be added and fills in what the
// store sets: the domain in lower case, a new Secret when none is given,
// Created (now, to the microsecond). It returns the endpoint and its Types
// as stored (comma-separated). A URL that is not absolute http(s) or an
// unknown event type is ErrInvalid. Both backends' AddWebhookEndpoint
// use it.
func (e WebhookEndpoint) PrepareNew() (WebhookEndpoint, string, error) {
	e.Domain = strings.ToLower(e.Domain)
	u, err := url.Parse(e.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return WebhookEndpoint{}, "", fmt.Errorf("webhook URL %q: want an absolute http(s) URL: %w", e.URL, ErrInvalid)
	}
	types := make([]string, len(e.Types))
	for i, t := range e.Types {
		if !t.Valid() {
			return WebhookEndpoint{}, "", fmt.Errorf("webhook event type %q: %w", t, ErrInvalid)
		}
		types[i] = string(t)
	}
	if e.Secret == "" {
		e.Secret = NewWebhookSecret()
	}
	e.Created = time.Now().UTC().Truncate(time.Microsecond)
	return e, strings.Join(types, ","), nil
}

// Takes reports whether the endpoint receives events of type t by
// subscription (enabled, not a route, t in Types or Types empty).
func (e WebhookEndpoint) Takes(t EventType) bool {
	if !e.Enabled || e.Pattern != "" {
		return false
	}
	if len(e.Types) == 0 {
		return true
	}
	for _, k := range e.Types {
		if k == t {
			return true
		}
	}
	return false
}

// WebhookState is where a webhook delivery stands.
type WebhookState int

// Webhook delivery states.
const (
	WebhookPending   WebhookState = iota // to be tried (again)
	WebhookDelivered                     // a 2xx answer
	WebhookFailed                        // given up
)

func (s WebhookState) String() string {
	switch s {
	case WebhookPending:
		return "pending"
	case WebhookDelivered:
		return "delivered"
	case WebhookFailed:
		return "failed"
	}
	return "unknown"
}

// WebhookDelivery is one event to be POSTed to one endpoint.
type WebhookDelivery struct {
	ID         int64
	EndpointID int64
	// URL and Secret are the endpoint's, at claim time.
	URL, Secret string
	Event       Event
	State       WebhookState
	Attempts    int
	Created     time.Time
	NextAttempt time.Time
	// Finished is when it was delivered or given up (zero while pending).
	Finished  time.Time
	LastError string
	// Lease is the live claim's token (set by ClaimWebhookDeliveries).
	Lease int64
}

// WebhookResult is the outcome of one attempt of a claimed delivery.
type WebhookResult struct {
	ID, Lease   int64
	State       WebhookState
	NextAttempt time.Time
	LastError   string
}

// NewTrackingID returns a new message tracking id: "m_" and 26 lower-case
// base32 characters (128 random bits), unique without coordination.
func NewTrackingID() string { return "m_" + randomID() }

// NewEventID returns a new event id ("ev_" and 26 base32 characters);
// backends use it.
func NewEventID() string { return "ev_" + randomID() }

// NewWebhookSecret returns a new signing secret ("whsec_" and 32 random
// bytes in base32).
func NewWebhookSecret() string {
	var b [32]byte
	rand.Read(b[:])
	return "whsec_" + idEncoding.EncodeToString(b[:])
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}
