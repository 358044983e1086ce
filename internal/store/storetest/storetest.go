// Package storetest is the conformance suite every store backend runs:
// the rules of package store, checked through the store.Store interface
// only, so the same tests hold the SQLite and PostgreSQL backends to the
// same behaviour.
//
// A backend's test calls
//
//	storetest.Run(t, func(t *testing.T) store.Store { ... a fresh, empty store ... })
//
// or RunWithOptions to enable tests that need more than a fresh store,
// such as reopening the same data. The open function should register the
// store's Close with t.Cleanup; the suite may close a store itself first.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/store"
)

// Options are the optional abilities of a backend under test.
type Options struct {
	// Reopen closes s and opens the same data again. Nil skips the
	// persistence tests.
	Reopen func(t *testing.T, s store.Store) store.Store
	// Pending names the tests a backend under construction does not
	// pass yet; they are skipped, saying so. Empty once it is complete.
	Pending []string
}

// Run runs the suite against stores made by open, each test on a fresh,
// empty store.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	RunWithOptions(t, open, Options{})
}

// RunWithOptions is Run with optional abilities enabled.
func RunWithOptions(t *testing.T, open func(t *testing.T) store.Store, opts Options) {
	tests := []struct {
		name string
		fn   func(t *testing.T, f *fixture)
	}{
		{"Domains", testDomains},
		{"Accounts", testAccounts},
		{"Credentials", testCredentials},
		{"DefaultMailboxes", testDefaultMailboxes},
		{"Aliases", testAliases},
		{"AliasAccountClash", testAliasAccountClash},
		{"RemoveDomainNotEmpty", testRemoveDomainNotEmpty},
		{"Resolve", testResolve},
		{"CreateMailbox", testCreateMailbox},
		{"RenameMailbox", testRenameMailbox},
		{"DeleteMailbox", testDeleteMailbox},
		{"Subscribe", testSubscribe},
		{"UIDValidity", testUIDValidity},
		{"DeliverShared", testDeliverShared},
		{"DeliverBufferReuse", testDeliverBufferReuse},
		{"DeliverErrors", testDeliverErrors},
		{"DeliverFlagsAndDate", testDeliverFlagsAndDate},
		{"Append", testAppend},
		{"UIDsNotReused", testUIDsNotReused},
		{"UpdateFlags", testUpdateFlags},
		{"UnchangedSince", testUnchangedSince},
		{"ModSeq", testModSeq},
		{"Expunge", testExpunge},
		{"Changes", testChanges},
		{"Copy", testCopy},
		{"Move", testMove},
		{"MailboxStatus", testMailboxStatus},
		{"SharedBodyLifetime", testSharedBodyLifetime},
		{"RemoveAccount", testRemoveAccount},
		{"ConcurrentDeliver", testConcurrentDeliver},
		{"ConcurrentMixedResults", testConcurrentMixedResults},
		{"CanceledContext", testCanceledContext},
		{"SendAsDomain", testSendAsDomain},
		{"AppPasswords", testAppPasswords},
		{"APIKeys", testAPIKeys},
		{"Queue", testQueue},
		{"QueueLeases", testQueueLeases},
		{"QueueConcurrentClaims", testQueueConcurrentClaims},
		{"QueueRenewLease", testQueueRenewLease},
		{"QueueCounts", testQueueCounts},
		{"MessagesFrom", testMessagesFrom},
		{"ForEachBody", testForEachBody},
		{"ForEachBodyCanceled", testForEachBodyCanceled},
		{"MessageStructure", testMessageStructure},
		{"UnchangedSinceZero", testUnchangedSinceZero},
		{"Resync", testResync},
		{"Quota", testQuota},
		{"Watch", testWatch},
		{"WatchSeesCommit", testWatchSeesCommit},
		{"WatchAccount", testWatchAccount},
		{"EventsEnqueue", testEventsEnqueue},
		{"EventsFinishAttempt", testEventsFinishAttempt},
		{"EventsRemoveQueued", testEventsRemoveQueued},
		{"EventsSubmitter", testEventsSubmitter},
		{"HardBounce", testHardBounce},
		{"Suppressions", testSuppressions},
		{"WebhookEndpoints", testWebhookEndpoints},
		{"WebhookDeliveries", testWebhookDeliveries},
		{"EventsDeliverAndPrune", testEventsDeliverAndPrune},
		{"MaildropLockExclusive", testMaildropLockExclusive},
		{"MaildropLockRelease", testMaildropLockRelease},
		{"MaildropLockExpiry", testMaildropLockExpiry},
		{"MaildropLockRenew", testMaildropLockRenew},
		{"MaildropLockArgs", testMaildropLockArgs},
		{"MaildropLockConcurrent", testMaildropLockConcurrent},
		{"MaildropLockClosed", testMaildropLockClosed},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if slices.Contains(opts.Pending, tc.name) {
				t.Skip("not yet implemented on this backend")
			}
			tc.fn(t, &fixture{t: t, s: open(t), ctx: t.Context()})
		})
	}
	t.Run("Reopen", func(t *testing.T) {
		if opts.Reopen == nil {
			t.Skip("backend cannot reopen")
		}
		if slices.Contains(opts.Pending, "Reopen") {
			t.Skip("not yet implemented on this backend")
		}
		testReopen(t, &fixture{t: t, s: open(t), ctx: t.Context()}, opts.Reopen)
	})
}

// fixture bundles a store under test with helpers that fail the test on
// unexpected errors.
type fixture struct {
	t   *testing.T
	s   store.Store
	ctx context.Context
}

func (f *fixture) domain(name string) {
	f.t.Helper()
	if err := f.s.AddDomain(f.ctx, name); err != nil {
		f.t.Fatalf("AddDomain(%q): %v", name, err)
	}
}

// account creates an account, and its domain if needed.
func (f *fixture) account(addr string) store.Account {
	f.t.Helper()
	dom := addr[strings.LastIndexByte(addr, '@')+1:]
	if ok, err := f.s.HasDomain(f.ctx, dom); err != nil {
		f.t.Fatalf("HasDomain(%q): %v", dom, err)
	} else if !ok {
		f.domain(dom)
	}
	a, err := f.s.AddAccount(f.ctx, addr, store.Credentials{PasswordHash: "hash-of-" + addr})
	if err != nil {
		f.t.Fatalf("AddAccount(%q): %v", addr, err)
	}
	return a
}

func (f *fixture) mailbox(accountID int64, name string) store.Mailbox {
	f.t.Helper()
	mb, err := f.s.Mailbox(f.ctx, accountID, name)
	if err != nil {
		f.t.Fatalf("Mailbox(%d, %q): %v", accountID, name, err)
	}
	return mb
}

func (f *fixture) create(accountID int64, name string) store.Mailbox {
	f.t.Helper()
	mb, err := f.s.CreateMailbox(f.ctx, accountID, name, store.UseNone)
	if err != nil {
		f.t.Fatalf("CreateMailbox(%d, %q): %v", accountID, name, err)
	}
	return mb
}

func (f *fixture) deliver(d store.Delivery) []store.Message {
	f.t.Helper()
	msgs, err := f.s.Deliver(f.ctx, d)
	if err != nil {
		f.t.Fatalf("Deliver: %v", err)
	}
	if len(msgs) != len(d.Targets) {
		f.t.Fatalf("Deliver returned %d messages for %d targets", len(msgs), len(d.Targets))
	}
	return msgs
}

// append stores body in a mailbox with flags.
func (f *fixture) append(mailboxID int64, body string, flags ...string) store.Message {
	f.t.Helper()
	m, err := f.s.Append(f.ctx, mailboxID, store.AppendOptions{Flags: flags}, []byte(body))
	if err != nil {
		f.t.Fatalf("Append(%d): %v", mailboxID, err)
	}
	return m
}

func (f *fixture) messages(mailboxID int64) []store.Message {
	f.t.Helper()
	msgs, err := f.s.Messages(f.ctx, mailboxID)
	if err != nil {
		f.t.Fatalf("Messages(%d): %v", mailboxID, err)
	}
	return msgs
}

func (f *fixture) uids(mailboxID int64) []uint32 {
	f.t.Helper()
	var uids []uint32
	for _, m := range f.messages(mailboxID) {
		uids = append(uids, m.UID)
	}
	return uids
}

func (f *fixture) status(mailboxID int64) store.MailboxStatus {
	f.t.Helper()
	st, err := f.s.MailboxStatus(f.ctx, mailboxID)
	if err != nil {
		f.t.Fatalf("MailboxStatus(%d): %v", mailboxID, err)
	}
	return st
}

func (f *fixture) body(messageID int64) []byte {
	f.t.Helper()
	b, err := f.s.MessageBody(f.ctx, messageID)
	if err != nil {
		f.t.Fatalf("MessageBody(%d): %v", messageID, err)
	}
	return b
}

func (f *fixture) setFlags(mailboxID int64, uids []uint32, op store.FlagOp, flags ...string) []store.Message {
	f.t.Helper()
	up, failed, err := f.s.UpdateFlags(f.ctx, mailboxID, uids, op, flags, 0)
	if err != nil {
		f.t.Fatalf("UpdateFlags(%d, %v): %v", mailboxID, uids, err)
	}
	if len(failed) != 0 {
		f.t.Fatalf("UpdateFlags(%d, %v) without UNCHANGEDSINCE failed %v", mailboxID, uids, failed)
	}
	return up
}

func (f *fixture) expunge(mailboxID int64, uids []uint32) []uint32 {
	f.t.Helper()
	got, err := f.s.Expunge(f.ctx, mailboxID, uids)
	if err != nil {
		f.t.Fatalf("Expunge(%d, %v): %v", mailboxID, uids, err)
	}
	return got
}

// wantErr fails unless err matches target.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want %v", what, err, target)
	}
}

func wantFlags(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: flags %q, want %q", what, got, want)
	}
}

func wantUIDs(t *testing.T, what string, got []uint32, want ...uint32) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: UIDs %v, want %v", what, got, want)
	}
}

// body returns a distinct test message body of about n bytes.
func body(n int, tag string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: a@example.net\r\nSubject: %s\r\n\r\n", tag)
	for b.Len() < n {
		b.WriteString("binary \x00\xff and lines\r\n")
	}
	return b.Bytes()
}
