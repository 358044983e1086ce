// Package storecopytest fills a store with a realistic mix of everything
// a migration must carry over, for the tests of export, import and
// verification.
package storecopytest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/auth"
	"github.com/posthorn/posthorn/internal/httpapi"
	"github.com/posthorn/posthorn/internal/store"
)

// Password is the password of every account Fill makes.
const Password = "correct horse battery staple"

// Filled says what Fill made, for checks after a migration.
type Filled struct {
	Alice, Bob, Carol store.Account
	// AliceInbox is alice@a.example's INBOX; Projects is her
	// "Projects/2026" (nested, subscribed, with copies of INBOX mail).
	AliceInbox, Projects store.Mailbox
	// Expunged are the UIDs expunged from AliceInbox (gaps).
	Expunged []uint32
	// APIToken is the secret of the API key "app"; APIKey its row.
	APIToken string
	APIKey   store.APIKey
	// Queued are the IDs of the queued messages (one held, one under a
	// live lease with one recipient delivered).
	Queued []int64
	// AppPassword is alice's app password "phone".
	AppPassword string
	// MaxMessageID and MaxQueueID are the highest IDs handed out, of a
	// message and a queued message that were then removed.
	MaxMessageID, MaxQueueID int64
}

// Fill makes, through the store API: three domains (one removed, its
// events left), three accounts with
// real credentials (Password; a quota on bob), an app password, aliases
// with a catch-all, nested mailboxes, messages with system flags and
// keywords, some expunged (UID gaps and expunges in the change log),
// copies sharing bodies, one delivery to two accounts, a remote reply
// in Latin-1 with a NUL (not valid PostgreSQL text), three queued
// messages (held; leased with mixed recipient states; tracked), events,
// a suppression, a webhook endpoint with pending deliveries, an inbound
// route, an API key and an idempotency record.
func Fill(t testing.TB, st store.Store) Filled {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	f := Filled{AppPassword: auth.GeneratePassword()}
	for _, d := range []string{"a.example", "b.example", "c.example"} {
		must(st.AddDomain(ctx, d))
	}
	cred, err := auth.NewCredentials(Password)
	must(err)
	f.Alice, err = st.AddAccount(ctx, "alice@a.example", cred)
	must(err)
	f.Bob, err = st.AddAccount(ctx, "bob@a.example", cred)
	must(err)
	f.Carol, err = st.AddAccount(ctx, "carol@b.example", cred)
	must(err)
	must(st.SetMaySendAsDomain(ctx, "alice@a.example", true))
	must(st.SetQuota(ctx, "bob@a.example", 10<<20))
	f.Bob.QuotaBytes = 10 << 20
	appCred, err := auth.NewCredentials(f.AppPassword)
	must(err)
	_, err = st.AddAppPassword(ctx, "alice@a.example", "phone", appCred)
	must(err)
	must(st.AddAlias(ctx, "info@a.example", []string{"alice@a.example", "bob@a.example"}))
	must(st.AddAlias(ctx, "@b.example", []string{"carol@b.example"}))

	f.AliceInbox, err = st.Mailbox(ctx, f.Alice.ID, "INBOX")
	must(err)
	_, err = st.CreateMailbox(ctx, f.Alice.ID, "Projects", store.UseNone)
	must(err)
	f.Projects, err = st.CreateMailbox(ctx, f.Alice.ID, "Projects/2026", store.UseNone)
	must(err)
	must(st.SetSubscribed(ctx, f.Alice.ID, "Projects/2026", true))
	f.Projects.Subscribed = true

	date := time.Date(2026, 11, 1, 9, 30, 15, 123456000, time.UTC)
	flags := [][]string{nil, {`\Seen`}, {`\Seen`, `\Flagged`}, {`$Label1`, `\Answered`}, {`\Draft`}, {`\Seen`, `$Forwarded`}}
	for i := range 12 {
		_, err := st.Deliver(ctx, store.Delivery{
			Body:         message(i),
			InternalDate: date.Add(time.Duration(i) * time.Hour),
			Targets:      []store.Target{{AccountID: f.Alice.ID, Flags: flags[i%len(flags)]}},
		})
		must(err)
	}
	// One body for two accounts.
	_, err = st.Deliver(ctx, store.Delivery{Body: message(100), InternalDate: date,
		Targets: []store.Target{{AccountID: f.Alice.ID}, {AccountID: f.Bob.ID, Flags: []string{`\Seen`}}}})
	must(err)
	_, err = st.Deliver(ctx, store.Delivery{Body: message(101), Targets: []store.Target{{AccountID: f.Carol.ID}}})
	must(err)

	in := f.AliceInbox.ID
	_, _, err = st.UpdateFlags(ctx, in, []uint32{2, 5, 9}, store.FlagsAdd, []string{`\Deleted`}, 0)
	must(err)
	f.Expunged, err = st.Expunge(ctx, in, nil)
	must(err)
	_, _, err = st.UpdateFlags(ctx, in, []uint32{1, 3}, store.FlagsAdd, []string{`$Important`, `\Seen`}, 0)
	must(err)
	_, _, err = st.UpdateFlags(ctx, in, []uint32{4}, store.FlagsRemove, []string{`$Label1`}, 0)
	must(err)
	_, _, err = st.Copy(ctx, in, []uint32{1, 3, 4}, f.Projects.ID)
	must(err)
	_, _, err = st.Move(ctx, in, []uint32{6}, f.Projects.ID)
	must(err)
	_, err = st.Append(ctx, f.Projects.ID, store.AppendOptions{Flags: []string{`\Seen`}, InternalDate: date}, message(200))
	must(err)
	// An empty body (APPEND of a zero-length literal) is a message too.
	_, err = st.Append(ctx, f.Projects.ID, store.AppendOptions{}, nil)
	must(err)
	// The newest message goes: its ID must still never come back.
	last, err := st.Append(ctx, f.Projects.ID, store.AppendOptions{Flags: []string{`\Deleted`}}, message(201))
	must(err)
	_, err = st.Expunge(ctx, f.Projects.ID, []uint32{last.UID})
	must(err)
	f.MaxMessageID = last.ID

	// API key and webhook endpoints before the tracked mail, so its
	// events get deliveries.
	token, key := httpapi.NewKey()
	key.Name, key.Domain = "app", "a.example"
	f.APIKey, err = st.AddAPIKey(ctx, key)
	must(err)
	f.APIToken = token
	_, err = st.AddWebhookEndpoint(ctx, store.WebhookEndpoint{Domain: "a.example", URL: "https://hooks.example/posthorn",
		Enabled: true})
	must(err)
	_, err = st.AddWebhookEndpoint(ctx, store.WebhookEndpoint{Domain: "b.example", URL: "https://hooks.example/inbound",
		Enabled: true, Pattern: "support@b.example", Keep: true, Types: []store.EventType{store.EventInbound}})
	must(err)

	held, err := st.Enqueue(ctx, store.QueuedMessage{From: "alice@a.example", Recipients: []string{"x@remote.example"},
		Body: message(300), AccountID: f.Alice.ID})
	must(err)
	must(st.HoldQueued(ctx, held, true))
	tracked, err := st.Enqueue(ctx, store.QueuedMessage{From: "alice@a.example",
		Recipients: []string{"y@remote.example", "z@remote.example", "w@other.example"},
		Body:       message(301), AccountID: f.Alice.ID, UTF8: true, RequireTLS: true,
		TrackingID: store.NewTrackingID(), Domain: "a.example", EventData: []byte(`{"tags":["welcome"]}`), Submitter: "alice@a.example",
		Idempotency: &store.IdempotencyRecord{KeyID: f.APIKey.ID, Key: "req-1", RequestHash: []byte("hash of req-1"),
			Status: 202, Response: []byte(`{"id":"m_x"}`)}})
	must(err)
	plain, err := st.Enqueue(ctx, store.QueuedMessage{From: "", Recipients: []string{"v@remote.example"},
		Body: message(302)})
	must(err)
	f.Queued = []int64{held, tracked, plain}
	// The newest queued message goes too.
	f.MaxQueueID, err = st.Enqueue(ctx, store.QueuedMessage{From: "", Recipients: []string{"u@remote.example"},
		Body: message(303)})
	must(err)
	must(st.RemoveQueued(ctx, f.MaxQueueID))

	now := time.Now()
	claimed, err := st.ClaimQueued(ctx, now, time.Minute, 10, "storecopytest")
	must(err)
	for _, q := range claimed {
		if q.ID != tracked {
			continue
		}
		must(st.FinishAttempt(ctx, store.Attempt{ID: q.ID, Lease: q.Lease, NextAttempt: now.Add(-time.Second),
			LastError: "451 4.3.0 try later", Results: []store.RecipientStatus{
				{Address: "y@remote.example", State: store.RecipientDelivered, Reply: "250 2.0.0 ok"},
				{Address: "z@remote.example", State: store.RecipientPending, Reply: "451 4.3.0 try later"},
				{Address: "w@other.example", State: store.RecipientFailed, Reply: "550 5.1.1 Empf\xe4nger unbekannt\x00"},
			}}))
	}
	// A live lease on the tracked message again.
	_, err = st.ClaimQueued(ctx, now, time.Hour, 10, "storecopytest")
	must(err)

	_, err = st.RecordEvents(ctx, []store.Event{{Type: store.EventSuppressed, Domain: "a.example",
		Recipient: "gone@remote.example", Reply: "suppressed"}})
	must(err)
	must(st.AddSuppression(ctx, store.Suppression{Domain: "a.example", Address: "gone@remote.example",
		Reason: "hard bounce", Created: date}))
	// Events outlive their domain until pruned.
	_, err = st.RecordEvents(ctx, []store.Event{{Type: store.EventSuppressed, Domain: "c.example",
		Recipient: "old@remote.example", Reply: "suppressed"}})
	must(err)
	must(st.RemoveDomain(ctx, "c.example"))
	return f
}

// message is a small multipart message, different for each n.
func message(n int) []byte {
	return fmt.Appendf(nil, "From: Sender %d <sender%d@remote.example>\r\n"+
		"To: alice@a.example\r\nSubject: message %d\r\nMessage-ID: <%d@remote.example>\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b%d\r\n\r\n"+
		"--b%d\r\nContent-Type: text/plain\r\n\r\nHello number %d.\r\n"+
		"--b%d\r\nContent-Type: text/html\r\n\r\n<p>Hello number %d.</p>\r\n--b%d--\r\n",
		n, n, n, n, n, n, n, n, n, n)
}
