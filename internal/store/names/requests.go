package names

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// The checks and defaults of whole store requests that both backends
// apply before their own SQL: what is invalid fails here, the same way in
// each, and what the store fills in is filled in once.

// NewMailbox checks a mailbox to create (store.Mail.CreateMailbox): its
// name, returned canonical, and its special use.
func NewMailbox(name string, use store.SpecialUse) (string, error) {
	name, err := Mailbox(name)
	if err != nil {
		return "", err
	}
	if err := CheckSpecialUse(use); err != nil {
		return "", err
	}
	return name, nil
}

// DeletableMailbox checks the name of a mailbox to delete
// (store.Mail.DeleteMailbox) and returns it canonical; INBOX cannot be
// deleted (ErrInvalid).
func DeletableMailbox(name string) (string, error) {
	name, err := Mailbox(name)
	if err != nil {
		return "", err
	}
	if name == store.Inbox {
		return "", fmt.Errorf("delete INBOX: %w", store.ErrInvalid)
	}
	return name, nil
}

// Alias checks an alias to add (store.Directory.AddAlias): an address,
// or "@domain" for a catch-all, and at least one target address. It
// returns the alias's domain and the targets without repeats, in order.
// Whether the domain and the target accounts exist is the backend's to
// check.
func Alias(address string, targets []string) (domain string, uniq []string, err error) {
	domain, err = SplitAddress(address, true)
	if err != nil {
		return "", nil, err
	}
	if len(targets) == 0 {
		return "", nil, fmt.Errorf("alias %s: no targets: %w", address, store.ErrInvalid)
	}
	for _, t := range targets {
		if _, err := SplitAddress(t, false); err != nil {
			return "", nil, fmt.Errorf("alias %s: target: %w", address, err)
		}
		if !slices.Contains(uniq, t) {
			uniq = append(uniq, t)
		}
	}
	return domain, uniq, nil
}

// NewAppPassword checks an app password to add
// (store.Directory.AddAppPassword): a valid name and a password hash. It
// returns the app password as AddAppPassword answers it, Created now (to
// the microsecond, as stored).
func NewAppPassword(name string, cred store.Credentials) (store.AppPassword, error) {
	if err := CheckAppPassword(name); err != nil {
		return store.AppPassword{}, err
	}
	if cred.PasswordHash == "" {
		return store.AppPassword{}, fmt.Errorf("app password %q: no password hash: %w", name, store.ErrInvalid)
	}
	return store.AppPassword{Name: name, Created: time.Now().UTC().Truncate(time.Microsecond),
		Credentials: store.Credentials{PasswordHash: cred.PasswordHash}}, nil
}

// Enqueue checks a message to enqueue (store.Queue.Enqueue): at least
// one recipient, each an address, and a Domain with a TrackingID. It
// returns m with Queued and NextAttempt filled in (now, and Queued) and
// the events the Enqueue writes for a tracked message: "queued" per
// recipient, then m.Events, all with m.Submitter.
func Enqueue(m store.QueuedMessage) (store.QueuedMessage, []store.Event, error) {
	if len(m.Recipients) == 0 {
		return m, nil, fmt.Errorf("enqueue: no recipients: %w", store.ErrInvalid)
	}
	for _, r := range m.Recipients {
		if _, err := SplitAddress(r, false); err != nil {
			return m, nil, fmt.Errorf("enqueue: recipient: %w", err)
		}
	}
	if m.TrackingID != "" && m.Domain == "" {
		return m, nil, fmt.Errorf("enqueue: tracking id without a domain: %w", store.ErrInvalid)
	}
	if m.Queued.IsZero() {
		m.Queued = time.Now()
	}
	if m.NextAttempt.IsZero() {
		m.NextAttempt = m.Queued
	}
	if m.TrackingID == "" {
		return m, nil, nil
	}
	evs := make([]store.Event, 0, len(m.Recipients)+len(m.Events))
	for _, r := range m.Recipients {
		evs = append(evs, store.Event{Type: store.EventQueued, Domain: m.Domain, Message: m.TrackingID, Recipient: r, Data: m.EventData, Time: m.Queued})
	}
	evs = append(evs, m.Events...)
	for i := range evs {
		evs[i].Submitter = m.Submitter
	}
	return m, evs, nil
}

// Suppression checks an address to put on a suppression list
// (store.Events.AddSuppression) and fills in what the store does: domain
// and address in lower case, Reason "added by hand" when empty, Created
// now when zero.
func Suppression(sup store.Suppression) (store.Suppression, error) {
	sup.Domain, sup.Address = strings.ToLower(sup.Domain), strings.ToLower(sup.Address)
	if _, err := SplitAddress(sup.Address, false); err != nil {
		return sup, fmt.Errorf("suppression: %w", err)
	}
	if sup.Reason == "" {
		sup.Reason = "added by hand"
	}
	if sup.Created.IsZero() {
		sup.Created = time.Now()
	}
	return sup, nil
}
