package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// testEventsSubmitter: every event of a sent message carries the address
// it was submitted as, written by Enqueue (its queued events and
// m.Events), Deliver and RecordEvents as given, and by FinishAttempt and
// RemoveQueued from the queued message; MessageStatus with a submitter
// and EventFilter.Address show another address's message as not found
// and list only the events of messages sent as the address plus the
// inbound ones addressed to it.
func testEventsSubmitter(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	f.domain("example.org")
	ann, bob := "ann@example.org", "bob@example.org"
	annAcct := f.account(ann)

	// Ann's message to two remote recipients, one suppressed at send.
	tAnn := store.NewTrackingID()
	id, err := s.Enqueue(ctx, store.QueuedMessage{From: "Ann@example.org", Recipients: []string{"x@remote.test", "y@remote.test"},
		Body: []byte("b"), TrackingID: tAnn, Domain: "example.org", Submitter: ann,
		Events: []store.Event{{Type: store.EventSuppressed, Domain: "example.org", Message: tAnn, Recipient: "z@remote.test", Reply: "suppressed"}}})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := s.QueuedMessage(ctx, id); err != nil || m.Submitter != ann {
		t.Fatalf("QueuedMessage = %+v, %v; want Submitter %q", m, err, ann)
	}
	// Bob's message to Ann, stored locally; Ann's inbound mail.
	tBob := store.NewTrackingID()
	f.deliver(store.Delivery{Body: []byte("Subject: hi\r\n\r\nhi\r\n"), Targets: []store.Target{{AccountID: annAcct.ID, Mailbox: store.Inbox}},
		Events: []store.Event{
			{Type: store.EventDelivered, Domain: "example.org", Message: tBob, Submitter: bob, Recipient: ann, Reply: "stored in a local mailbox"},
			{Type: store.EventInbound, Domain: "example.org", Message: store.NewTrackingID(), Recipient: "ANN@example.org"},
		}})
	// Bob's message that was all suppressed.
	tBob2 := store.NewTrackingID()
	if _, err := s.RecordEvents(ctx, []store.Event{{Type: store.EventSuppressed, Domain: "example.org", Message: tBob2, Submitter: bob,
		Recipient: "z@remote.test", Reply: "suppressed"}}); err != nil {
		t.Fatal(err)
	}

	// An attempt and a removal: their events take the queued message's
	// submitter.
	now := time.Now()
	claimed, err := s.ClaimQueued(ctx, now, time.Minute, 1, "node-a")
	if err != nil || len(claimed) != 1 || claimed[0].Submitter != ann {
		t.Fatalf("ClaimQueued = %+v, %v; want Ann's message", claimed, err)
	}
	if err := s.FinishAttempt(ctx, store.Attempt{ID: id, Lease: claimed[0].Lease, NextAttempt: now.Add(time.Hour), Results: []store.RecipientStatus{
		{Address: "x@remote.test", State: store.RecipientDelivered, Reply: "250 ok"},
		{Address: "y@remote.test", State: store.RecipientPending, Reply: "451 later"},
	}}); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveQueued(ctx, id); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{tAnn: ann, tBob: bob, tBob2: bob}
	evs := f.events("example.org")
	if len(evs) != 9 {
		t.Errorf("%d events, want 9: %q", len(evs), eventLines(evs))
	}
	for _, e := range evs {
		if e.Submitter != want[e.Message] {
			t.Errorf("%s event to %s: Submitter %q, want %q", e.Type, e.Recipient, e.Submitter, want[e.Message])
		}
	}

	// MessageStatus: the submitter sees its message, another address
	// gets ErrNotFound, no submitter (a domain key) sees all.
	for _, c := range []struct {
		tid, submitter string
		ok             bool
	}{
		{tAnn, ann, true}, {tAnn, bob, false}, {tAnn, "", true},
		{tBob, bob, true}, {tBob, ann, false}, {tBob, "", true},
		{tBob2, bob, true}, {tBob2, ann, false},
	} {
		st, err := s.MessageStatus(ctx, "example.org", c.tid, c.submitter)
		switch {
		case c.ok && (err != nil || len(st.Recipients) == 0):
			t.Errorf("MessageStatus(%s, submitter %q) = %+v, %v; want its status", c.tid, c.submitter, st, err)
		case !c.ok && !errors.Is(err, store.ErrNotFound):
			t.Errorf("MessageStatus(%s, submitter %q) = %+v, %v; want ErrNotFound", c.tid, c.submitter, st, err)
		}
	}

	// EventFilter.Address: what a key for the address may list.
	list := func(f store.EventFilter) []string {
		t.Helper()
		f.Domain, f.Limit = "example.org", 1000
		evs, err := s.QueryEvents(ctx, f)
		if err != nil {
			t.Fatalf("QueryEvents(%+v): %v", f, err)
		}
		return eventLines(evs)
	}
	if got, want := list(store.EventFilter{Address: ann}), []string{"queued x@remote.test", "queued y@remote.test", "suppressed z@remote.test",
		"inbound ANN@example.org", "delivered x@remote.test", "deferred y@remote.test", "bounced y@remote.test"}; !slices.Equal(got, want) {
		t.Errorf("events for Ann = %q, want %q", got, want)
	}
	if got, want := list(store.EventFilter{Address: bob}), []string{"delivered " + ann, "suppressed z@remote.test"}; !slices.Equal(got, want) {
		t.Errorf("events for Bob = %q, want %q", got, want)
	}
	if got := list(store.EventFilter{Address: ann, Message: tBob}); len(got) != 0 {
		t.Errorf("Ann's events of Bob's message = %q, want none", got)
	}
	if got, want := list(store.EventFilter{Address: ann, Recipient: ann}), []string{"inbound ANN@example.org"}; !slices.Equal(got, want) {
		t.Errorf("Ann's events to Ann = %q, want only the inbound one (Bob's delivery to her is his)", got)
	}
	if got := list(store.EventFilter{Address: "carol@example.org"}); len(got) != 0 {
		t.Errorf("events for Carol = %q, want none", got)
	}
}

// CheckSubmitterMigrated checks a store whose schema was migrated from
// before Submitter with, in domain example.org, queued message 1
// (tracking id m_queued, envelope sender Ann@example.org) and the events
// of an older message m_gone no longer queued: the queued one is Ann's
// (lower case), seen by her address; the old one only by the domain.
// The backends' migration tests share it.
func CheckSubmitterMigrated(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	if m, err := s.QueuedMessage(ctx, 1); err != nil || m.Submitter != "ann@example.org" {
		t.Errorf("queued message after migration = %+v, %v; want Submitter ann@example.org", m, err)
	}
	if _, err := s.MessageStatus(ctx, "example.org", "m_queued", "ann@example.org"); err != nil {
		t.Errorf("MessageStatus of the queued message for its sender: %v", err)
	}
	if _, err := s.MessageStatus(ctx, "example.org", "m_gone", "ann@example.org"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("MessageStatus of an old message for an address: %v, want ErrNotFound", err)
	}
	if _, err := s.MessageStatus(ctx, "example.org", "m_gone", ""); err != nil {
		t.Errorf("MessageStatus of an old message for the domain: %v", err)
	}
}
