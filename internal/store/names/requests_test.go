package names

import (
	"errors"
	"slices"
	"testing"

	"github.com/posthorn/posthorn/internal/store"
)

// TestRequests: the shared request checks refuse what both backends must
// refuse and fill in what both fill in.
func TestRequests(t *testing.T) {
	if n, err := DeletableMailbox("Archive/2025"); err != nil || n != "Archive/2025" {
		t.Errorf("DeletableMailbox(Archive/2025) = %q, %v", n, err)
	}
	for _, n := range []string{"inbox", "INBOX", "", "a//b"} {
		if _, err := DeletableMailbox(n); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("DeletableMailbox(%q) = %v, want ErrInvalid", n, err)
		}
	}
	if n, err := NewMailbox("Inbox", store.UseNone); err != nil || n != store.Inbox {
		t.Errorf("NewMailbox(Inbox) = %q, %v; want INBOX", n, err)
	}
	if _, err := NewMailbox("Sent", "\\Bogus"); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("NewMailbox with an unknown special use = %v", err)
	}

	dom, uniq, err := Alias("@example.org", []string{"a@example.org", "b@example.org", "a@example.org"})
	if err != nil || dom != "example.org" || !slices.Equal(uniq, []string{"a@example.org", "b@example.org"}) {
		t.Errorf("Alias(catch-all) = %q, %q, %v", dom, uniq, err)
	}
	for _, c := range [][]string{{"x@example.org"}, {"x@example.org", "no-at"}, {"x y@example.org", "a@example.org"}} {
		if _, _, err := Alias(c[0], c[1:]); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Alias(%q) = %v, want ErrInvalid", c, err)
		}
	}

	if _, err := NewAppPassword("phone", store.Credentials{}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("NewAppPassword without a hash = %v", err)
	}
	p, err := NewAppPassword("phone", store.Credentials{PasswordHash: "h"})
	if err != nil || p.Name != "phone" || p.Credentials.PasswordHash != "h" || p.Created.IsZero() || p.Created.Nanosecond()%1000 != 0 {
		t.Errorf("NewAppPassword = %+v, %v; want Created now to the µs", p, err)
	}

	m, evs, err := Enqueue(store.QueuedMessage{Recipients: []string{"x@remote.test", "y@remote.test"}, TrackingID: "m_1", Domain: "example.org",
		Submitter: "ann@example.org", Events: []store.Event{{Type: store.EventSuppressed, Domain: "example.org", Recipient: "z@remote.test"}}})
	if err != nil || m.Queued.IsZero() || !m.NextAttempt.Equal(m.Queued) || len(evs) != 3 {
		t.Fatalf("Enqueue = %+v, %+v, %v", m, evs, err)
	}
	for _, e := range evs {
		if e.Submitter != "ann@example.org" {
			t.Errorf("event %+v without the submitter", e)
		}
	}
	if evs[0].Type != store.EventQueued || evs[0].Message != "m_1" || evs[2].Type != store.EventSuppressed {
		t.Errorf("Enqueue events = %+v", evs)
	}
	for _, q := range []store.QueuedMessage{{}, {Recipients: []string{"nobody"}}, {Recipients: []string{"x@remote.test"}, TrackingID: "m_2"}} {
		if _, _, err := Enqueue(q); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Enqueue(%+v) = %v, want ErrInvalid", q, err)
		}
	}

	sup, err := Suppression(store.Suppression{Domain: "Example.ORG", Address: "X@Remote.test"})
	if err != nil || sup.Domain != "example.org" || sup.Address != "x@remote.test" || sup.Reason != "added by hand" || sup.Created.IsZero() {
		t.Errorf("Suppression = %+v, %v", sup, err)
	}
}
