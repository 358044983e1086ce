package store

import (
	"context"
	"errors"
	"slices"
	"time"
)

// Queue is the durable outbound queue: messages accepted for recipients on
// other hosts, waiting for delivery. Submission enqueues; the delivery
// worker (package queue) claims due messages under a lease, tries them and
// records each attempt; the administration commands list, hold, release,
// retry and remove them.
//
// Leases make delivery at-least-once across crashes and safe with several
// workers on one database: ClaimQueued hands a message to one caller until
// the lease runs out; FinishAttempt with that lease records the result. A
// worker that dies leaves its lease to expire, and the message is claimed
// again. On PostgreSQL ClaimQueued is SELECT ... FOR UPDATE SKIP LOCKED.
type Queue interface {
	// Enqueue stores m (From, Recipients, Body, AccountID, UTF8, RequireTLS,
	// TrackingID, Domain, EventData, Submitter, Events, and optionally Queued and
	// NextAttempt) in one durable commit and returns its ID, which is
	// never reused. Queued and NextAttempt are now when zero; Size is set
	// by the backend; the other fields are ignored. The backend does not
	// keep m.Body after Enqueue returns. At least one recipient is
	// required (ErrInvalid).
	//
	// With a TrackingID (which needs a Domain, ErrInvalid otherwise; a
	// tracking id already queued is ErrExists), the same commit writes a
	// "queued" event per recipient (Data = EventData) and m.Events, each
	// with its webhook deliveries (see Events); all of them with Submitter
	// = m.Submitter. Without one, no event is
	// written (bounces and other system mail).
	Enqueue(ctx context.Context, m QueuedMessage) (int64, error)
	// QueuedMessages lists up to limit queued messages (all when limit <=
	// 0) in ID order, without their bodies.
	QueuedMessages(ctx context.Context, limit int) ([]QueuedMessage, error)
	// QueuedMessage returns one queued message without its body
	// (ErrNotFound when it is not queued).
	QueuedMessage(ctx context.Context, id int64) (QueuedMessage, error)
	// QueuedBody returns the exact bytes enqueued for a message.
	QueuedBody(ctx context.Context, id int64) ([]byte, error)

	// ClaimQueued leases up to limit messages that are due at now (not
	// held, NextAttempt <= now, no live lease) for the duration lease, in
	// NextAttempt order, and returns them without bodies. Each carries a
	// new Lease token and holder as its LeaseHolder (the claiming node's
	// name, shown by the administration commands; may be ""); while the
	// lease lasts no other claim returns the message (its NextAttempt is
	// the lease's end).
	ClaimQueued(ctx context.Context, now time.Time, lease time.Duration, limit int, holder string) ([]QueuedMessage, error)
	// FinishAttempt records one delivery attempt of a claimed message and
	// ends the lease: every recipient result is stored, Attempts grows by
	// one, and the message is removed when no recipient is left pending;
	// otherwise it is due again at a.NextAttempt, with Lease 0 and
	// LeaseHolder "". ErrLeaseLost when the lease is no longer a.Lease
	// (expired and claimed again, or the message was removed or held
	// meanwhile); nothing is changed then.
	//
	// For a tracked message (TrackingID set), the same commit writes one
	// event per result of a recipient that was pending: "delivered"
	// (Reply), "bounced" (RecipientFailed; Reply is the reason) or
	// "deferred" (Reply, NextAttempt = a.NextAttempt), each with the
	// message's EventData and Submitter and its webhook deliveries; and a bounce whose
	// Reply is a HardBounce puts the recipient on the domain's suppression
	// list (unless already there).
	FinishAttempt(ctx context.Context, a Attempt) error
	// RenewLease extends the live claim lease of message id to end at
	// until (its NextAttempt), for an attempt still running: a worker
	// renews while it works, so the lease can stay short (a dead node's
	// messages are taken over soon) without another worker claiming a
	// message whose attempt is merely slow. ErrLeaseLost when the lease
	// is no longer lease (it ran out and the message was claimed again,
	// or the message is gone); nothing is changed then.
	RenewLease(ctx context.Context, id, lease int64, until time.Time) error
	// NextQueuedAttempt returns the earliest NextAttempt of the messages
	// not held, or the zero time when there are none.
	NextQueuedAttempt(ctx context.Context) (time.Time, error)
	// QueueCounts counts the queued messages by state at now (see
	// QueueCounts). It is read at every metrics scrape: one query over
	// an index, never the bodies.
	QueueCounts(ctx context.Context, now time.Time) (QueueCounts, error)

	// HoldQueued holds a message (no delivery attempts until released) or
	// releases it, due at once (ErrNotFound when it is not queued). A
	// lease in flight is ended: its FinishAttempt gets ErrLeaseLost.
	HoldQueued(ctx context.Context, id int64, hold bool) error
	// RetryQueued makes a message that is not held due at once. A message
	// being tried now is left alone (its lease stands). ErrNotFound when
	// it is not queued.
	RetryQueued(ctx context.Context, id int64) error
	// RemoveQueued deletes a message from the queue (ErrNotFound when it
	// is not queued). An attempt in flight may still deliver it. A
	// tracked message's recipients still pending get a bounced event with
	// the reply RemovedReply in the same commit (not a hard bounce: no
	// suppression), so its status does not stay "queued".
	RemoveQueued(ctx context.Context, id int64) error
}

// QueueCounts is how many messages the outbound queue holds, by state;
// every message is in exactly one.
type QueueCounts struct {
	// Queued: not held, due for an attempt (NextAttempt <= now): new
	// messages and retries whose time has come.
	Queued int
	// Deferred: not held, NextAttempt after now: waiting for a retry, or
	// claimed and being attempted now (a lease's end is its NextAttempt).
	Deferred int
	// Held by an administrator (HoldQueued).
	Held int
}

// RemovedReply is the reason recorded for the recipients of a message
// removed from the queue by RemoveQueued (posthorn queue delete).
const RemovedReply = "550 5.0.0 removed from the queue by the operator"

// ErrLeaseLost: the caller's lease on a queued message has ended.
var ErrLeaseLost = errors.New("queue lease lost")

// QueuedMessage is one message in the outbound queue.
type QueuedMessage struct {
	ID int64
	// From is the reverse-path (RFC 5321 §4.1.1.2), "" for the null sender.
	From string
	// Recipients are the forward-paths still to deliver to, in order.
	Recipients []string
	// Status has every recipient, pending or done, in order (not read
	// by Enqueue).
	Status []RecipientStatus
	// Body is the message with its trace headers; set for Enqueue only.
	Body []byte
	// AccountID is the account that submitted the message, 0 for the
	// system (bounces). It is not a reference: the message stays queued
	// when the account is removed.
	AccountID int64
	// UTF8 records that the message needs SMTPUTF8 (RFC 6531) on the way out.
	UTF8 bool
	// RequireTLS records that the message was received with REQUIRETLS
	// (RFC 8689): it may only leave over verified TLS, to servers that
	// support REQUIRETLS (see internal/tlspolicy).
	RequireTLS  bool
	Size        int64
	Queued      time.Time
	NextAttempt time.Time
	Attempts    int
	// Held messages are not tried until released.
	Held bool
	// LastError is the reason the last attempt left recipients pending.
	LastError string
	// Warned records that the sender was told of the delay.
	Warned bool
	// Lease is the token of the live claim, 0 when none (set by
	// ClaimQueued; a lease whose time ran out may still show).
	Lease int64
	// LeaseHolder names the node that claimed the message (ClaimQueued's
	// holder) while Lease is set; "" otherwise. With a lease, NextAttempt
	// is the lease's end: a holder whose lease ended in the past died or
	// lost the database before finishing the attempt.
	LeaseHolder string
	// TrackingID names the message in events and the HTTP API
	// (NewTrackingID); "" for untracked mail (bounces).
	TrackingID string
	// Domain is the sender domain the message's events belong to (of
	// the From: or envelope sender); required with TrackingID.
	Domain string
	// EventData is a JSON object copied into every event of the message
	// (the API's tags and metadata), or nil.
	EventData []byte
	// Submitter is the address the message was submitted as (see
	// Event.Submitter), copied into every event of the message: Enqueue's
	// and those FinishAttempt and RemoveQueued write later.
	Submitter string
	// Events are extra events written with the Enqueue (for instance
	// "suppressed" for recipients refused in the same send); Enqueue
	// only, not read back.
	Events []Event
	// Idempotency, when set for Enqueue, is stored in the same commit as
	// the message; when a record of the same (KeyID, Key) exists already
	// nothing is stored and Enqueue fails with ErrExists. Not read back.
	Idempotency *IdempotencyRecord
}

// RecipientState is where one recipient of a queued message stands.
type RecipientState int

// Recipient states.
const (
	RecipientPending   RecipientState = iota // still to deliver
	RecipientDelivered                       // accepted by the next hop
	RecipientFailed                          // permanently failed (bounced)
)

func (s RecipientState) String() string {
	switch s {
	case RecipientPending:
		return "pending"
	case RecipientDelivered:
		return "delivered"
	case RecipientFailed:
		return "failed"
	}
	return "unknown"
}

// RecipientStatus is one recipient of a queued message and its state.
type RecipientStatus struct {
	Address string
	State   RecipientState
	// Reply is the last answer or failure reason for this recipient
	// (e.g. "550 5.1.1 User unknown"), "" before any attempt.
	Reply string
}

// Attempt is the outcome of one delivery attempt of a claimed message.
type Attempt struct {
	ID    int64
	Lease int64
	// Results per recipient address; recipients not listed keep their
	// state.
	Results []RecipientStatus
	// NextAttempt is when recipients still pending are tried again.
	NextAttempt time.Time
	// LastError is kept as the message's LastError.
	LastError string
	// Warned sets the message's Warned flag (it is never cleared).
	Warned bool
}

// AttemptEvents are the events FinishAttempt writes for a tracked
// message t: one per result of a
// recipient in pending (the recipients still pending before the
// attempt): "delivered", "bounced", or "deferred" with a.NextAttempt.
// Backends share it.
func AttemptEvents(t Tracked, pending []string, a Attempt) []Event {
	var evs []Event
	for _, r := range a.Results {
		if !slices.Contains(pending, r.Address) {
			continue
		}
		e := t.event(r.Address, r.Reply)
		switch r.State {
		case RecipientDelivered:
			e.Type = EventDelivered
		case RecipientFailed:
			e.Type = EventBounced
		default:
			e.Type, e.NextAttempt = EventDeferred, a.NextAttempt
		}
		evs = append(evs, e)
	}
	return evs
}

// RemovedEvents are the events RemoveQueued writes for a tracked message:
// "bounced" with RemovedReply for each recipient still pending. Backends
// share it.
func RemovedEvents(t Tracked, pending []string) []Event {
	evs := make([]Event, 0, len(pending))
	for _, addr := range pending {
		e := t.event(addr, RemovedReply)
		e.Type = EventBounced
		evs = append(evs, e)
	}
	return evs
}

// Tracked is what every event of a queued tracked message repeats: the
// queue row's TrackingID, Domain, EventData and Submitter. FinishAttempt
// and RemoveQueued read it from the row for AttemptEvents and
// RemovedEvents.
type Tracked struct {
	TrackingID, Domain, Submitter string
	Data                          []byte
}

// event is an event of t for one recipient (without a type).
func (t Tracked) event(rcpt, reply string) Event {
	return Event{Domain: t.Domain, Message: t.TrackingID, Submitter: t.Submitter, Recipient: rcpt, Reply: reply, Data: t.Data}
}
