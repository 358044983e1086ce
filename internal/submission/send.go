package submission

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/posthorn/posthorn/internal/dkim"
	"github.com/posthorn/posthorn/internal/received"
	"github.com/posthorn/posthorn/internal/store"
)

// Outgoing is a submitted message after its protocol's own checks (who
// the client is, sender rights, recipients resolved): what Send needs.
// The SMTP roles, the local socket and the HTTP API (package httpapi) all
// send through Backend.Send, so they trace, sign and store alike.
type Outgoing struct {
	// From is the reverse-path, "" for the null sender.
	From string
	// Targets are the local recipients' accounts, one each; Remote the
	// recipients for the outbound queue. At least one of them.
	Targets []store.Target
	Remote  []string
	// Body is the message as submitted.
	Body []byte
	// WithTrace, when set, returns trace followed by Body without copying
	// Body where it can (smtpserver.Message.WithTrace); nil appends.
	WithTrace func(trace []byte) []byte
	// Conn and Hop make the Received field.
	Conn *received.Conn
	Hop  received.Hop
	// Header is ReadHeader's result for Body: the fix-ups and the DKIM
	// signing domain.
	Header Header
	// AccountID is the submitting account, 0 for none (the local socket,
	// an API key).
	AccountID  int64
	UTF8       bool
	RequireTLS bool
	// TrackingID, Domain, EventData and Submitter go with the queued copy
	// (see store.QueuedMessage); QueueEvents are written with the Enqueue,
	// DeliverEvents with the local Deliver, both with Submitter.
	TrackingID string
	Domain     string
	EventData  []byte
	// Submitter is the canonical envelope sender (store.Event.Submitter),
	// "" for the null sender.
	Submitter     string
	QueueEvents   []store.Event
	DeliverEvents []store.Event
	// Idempotency is stored with the last of the two writes (see Send).
	Idempotency *store.IdempotencyRecord
}

// ErrSign wraps a DKIM signing failure (not a missing key: such a domain
// goes unsigned).
var ErrSign = errors.New("DKIM signing failed")

// Send prepends Received and m.Header.Fix to the message, signs it with
// the DKIM keys of m.Header.SignDomain (the signatures above Received, so
// that they cover the fix-ups), enqueues the remote recipients' copy and
// delivers the local ones (which get Return-Path too, RFC 5321 §4.4).
// Both writes are durable when Send returns nil. When the second fails
// after the first succeeded the caller should answer with a temporary
// error: a retry may duplicate the first, nothing is lost. For the same
// reason m.Idempotency goes with the second write (the Deliver when there
// are local recipients): its record exists only once everything is sent.
// Store errors are returned as they are (store.ErrOverQuota,
// store.ErrExists for a used idempotency key); signing failures wrap
// ErrSign. now dates Received and the fix-ups.
func (b *Backend) Send(ctx context.Context, m *Outgoing, now time.Time) error {
	trace := received.AppendReturnPath(nil, m.From)
	rp := len(trace)
	trace = m.Conn.AppendReceived(trace, m.Hop, now)
	trace = append(trace, m.Header.Fix...)
	if b.opts.Signer != nil && m.Header.SignDomain != "" {
		sig, err := b.opts.Signer.Sign(m.Header.SignDomain, io.MultiReader(bytes.NewReader(trace[rp:]), bytes.NewReader(m.Body)))
		if err != nil && !errors.Is(err, dkim.ErrNoKey) {
			return fmt.Errorf("%w: domain %s: %w", ErrSign, m.Header.SignDomain, err)
		}
		if err == nil {
			trace = slices.Insert(trace, rp, []byte(sig)...)
		}
	}
	withTrace := m.WithTrace
	if withTrace == nil {
		withTrace = func(t []byte) []byte { return append(append(make([]byte, 0, len(t)+len(m.Body)), t...), m.Body...) }
	}
	if len(m.Remote) > 0 {
		q := store.QueuedMessage{
			From:       m.From,
			Recipients: m.Remote,
			Body:       withTrace(trace[rp:]),
			AccountID:  m.AccountID,
			UTF8:       m.UTF8,
			RequireTLS: m.RequireTLS,
			TrackingID: m.TrackingID,
			Domain:     m.Domain,
			EventData:  m.EventData,
			Submitter:  m.Submitter,
			Events:     m.QueueEvents,
		}
		if len(m.Targets) == 0 {
			q.Idempotency = m.Idempotency
		}
		if _, err := b.opts.Store.Enqueue(ctx, q); err != nil {
			return fmt.Errorf("enqueueing: %w", err)
		}
		if b.opts.Queued != nil {
			b.opts.Queued()
		}
	}
	if len(m.Targets) > 0 {
		for i := range m.DeliverEvents {
			m.DeliverEvents[i].Submitter = m.Submitter
		}
		_, err := b.opts.Store.Deliver(ctx, store.Delivery{
			Body:         withTrace(trace),
			InternalDate: now,
			Targets:      m.Targets,
			Events:       m.DeliverEvents,
			Idempotency:  m.Idempotency,
		})
		if err != nil {
			return fmt.Errorf("delivering: %w", err)
		}
	}
	return nil
}
