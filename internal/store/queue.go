package store

import (
	"context"
	"time"
)

// Queue is the durable outbound queue: messages accepted by submission for
// recipients on other hosts, waiting for delivery. Submission only
// enqueues; the outbound delivery worker takes messages out, and extends
// this contract with what it needs (leases, retries, removal).
type Queue interface {
	// Enqueue stores m (From, Recipients, Body, AccountID, UTF8) in one
	// durable commit and returns its ID, which is never reused. Queued,
	// NextAttempt (both now when zero) and Size are set by the backend;
	// ID and Attempts are ignored. The backend does not keep m.Body after
	// Enqueue returns. At least one recipient is required (ErrInvalid).
	Enqueue(ctx context.Context, m QueuedMessage) (int64, error)
	// QueuedMessages lists up to limit queued messages (all when limit <=
	// 0) in ID order, without their bodies.
	QueuedMessages(ctx context.Context, limit int) ([]QueuedMessage, error)
	// QueuedBody returns the exact bytes enqueued for a message.
	QueuedBody(ctx context.Context, id int64) ([]byte, error)
}

// QueuedMessage is one message in the outbound queue.
type QueuedMessage struct {
	ID int64
	// From is the reverse-path (RFC 5321 §4.1.1.2), "" for the null sender.
	From string
	// Recipients are the forward-paths still to deliver to, in order.
	Recipients []string
	// Body is the message with its trace headers; set for Enqueue only.
	Body []byte
	// AccountID is the account that submitted the message, 0 for the
	// system (bounces). It is not a reference: the message stays queued
	// when the account is removed.
	AccountID int64
	// UTF8 records that the message needs SMTPUTF8 (RFC 6531) on the way out.
	UTF8        bool
	Size        int64
	Queued      time.Time
	NextAttempt time.Time
	Attempts    int
}
