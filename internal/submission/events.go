package submission

import (
	"context"

	"github.com/posthorn/posthorn/internal/smtp"
	"github.com/posthorn/posthorn/internal/store"
)

// Message tracking: submitted mail with a sender gets a tracking id at MAIL
// and its events belong to the envelope sender's domain, so mail sent over
// SMTP shows up in the event log and webhooks like mail sent through the
// HTTP API. The queued copy's "queued" events come with Enqueue, the
// local copies' "delivered" events with Deliver, in the same commits.
//
// A remote recipient on the sender domain's suppression list is refused at
// RCPT with 550 5.1.1 and a "suppressed" event is recorded at once: an SMTP
// client cannot see a status, but it does see a permanent failure for that
// recipient, which is what the earlier hard bounce said; accepting and
// dropping the mail silently would be worse.

// checkSuppressed refuses rcpt when it is on the sender domain's
// suppression list, recording the refusal.
func (s *session) checkSuppressed(ctx context.Context, rcpt string) error {
	if s.tracking == "" {
		return nil
	}
	sup, err := s.b.opts.Store.Suppressed(ctx, s.domain, []string{rcpt})
	if err != nil {
		s.b.log.Error("submission: checking the suppression list", "conn", s.ci.ID, "rcpt", rcpt, "err", err)
		return smtp.ReplyTempError
	}
	if len(sup) == 0 {
		return nil
	}
	s.b.log.Info("submission: recipient suppressed", "conn", s.ci.ID, "domain", s.domain, "rcpt", rcpt, "reason", sup[0].Reason)
	ev := store.Event{Type: store.EventSuppressed, Domain: s.domain, Message: s.tracking, Submitter: s.submitter,
		Recipient: rcpt, Reply: sup[0].Reason}
	if _, err := s.b.opts.Store.RecordEvents(ctx, []store.Event{ev}); err != nil {
		s.b.log.Error("submission: recording a suppressed recipient", "conn", s.ci.ID, "err", err)
	}
	return replySuppressed
}

// deliveredEvents are the "delivered" events of the local recipients.
func (s *session) deliveredEvents() []store.Event {
	if s.tracking == "" {
		return nil
	}
	evs := make([]store.Event, len(s.localRcpts))
	for i, r := range s.localRcpts {
		evs[i] = store.Event{Type: store.EventDelivered, Domain: s.domain, Message: s.tracking, Recipient: r, Reply: "stored in a local mailbox"}
	}
	return evs
}
