package sqlite

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/storecopy"
	"github.com/posthorn/posthorn/internal/store/storecopy/storecopytest"
)

// recorder keeps every exported record, in order.
type recorder struct{ recs []any }

func (r *recorder) add(v any) error { r.recs = append(r.recs, v); return nil }

func (r *recorder) Meta(_ context.Context, m storecopy.Meta) error       { return r.add(m) }
func (r *recorder) Domain(_ context.Context, d storecopy.Domain) error   { return r.add(d) }
func (r *recorder) Account(_ context.Context, a storecopy.Account) error { return r.add(a) }
func (r *recorder) AppPassword(_ context.Context, p storecopy.AppPassword) error {
	return r.add(p)
}
func (r *recorder) Alias(_ context.Context, a storecopy.Alias) error     { return r.add(a) }
func (r *recorder) Mailbox(_ context.Context, m storecopy.Mailbox) error { return r.add(m) }
func (r *recorder) Body(_ context.Context, b storecopy.Body) error {
	b.Data = bytes.Clone(b.Data)
	return r.add(b)
}
func (r *recorder) Message(_ context.Context, m storecopy.Message) error { return r.add(m) }
func (r *recorder) Change(_ context.Context, c storecopy.Change) error   { return r.add(c) }
func (r *recorder) Queued(_ context.Context, q storecopy.Queued) error   { return r.add(q) }
func (r *recorder) Event(_ context.Context, e storecopy.Event) error     { return r.add(e) }
func (r *recorder) Suppression(_ context.Context, s storecopy.Suppression) error {
	return r.add(s)
}
func (r *recorder) WebhookEndpoint(_ context.Context, e storecopy.WebhookEndpoint) error {
	return r.add(e)
}
func (r *recorder) WebhookDelivery(_ context.Context, d storecopy.WebhookDelivery) error {
	return r.add(d)
}
func (r *recorder) APIKey(_ context.Context, k storecopy.APIKey) error { return r.add(k) }
func (r *recorder) Idempotency(_ context.Context, i storecopy.Idempotency) error {
	return r.add(i)
}

func records[T any](r *recorder) []T {
	var out []T
	for _, v := range r.recs {
		if x, ok := v.(T); ok {
			out = append(out, x)
		}
	}
	return out
}

func TestExport(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "posthorn.db"))
	f := storecopytest.Fill(t, s)
	rec := &recorder{}
	c := &storecopy.Counter{Next: rec}
	if err := s.Export(ctx, c); err != nil {
		t.Fatal(err)
	}

	// Every row of every table, once.
	for table, n := range map[string]int{
		"domains": c.Counts.Domains, "accounts": c.Counts.Accounts, "app_passwords": c.Counts.AppPasswords,
		"aliases": c.Counts.Aliases, "mailboxes": c.Counts.Mailboxes, "blobs": c.Counts.Bodies,
		"messages": c.Counts.Messages, "changes": c.Counts.Changes, "queue": c.Counts.Queued,
		"events": c.Counts.Events, "suppressions": c.Counts.Suppressions,
		"webhook_endpoints": c.Counts.WebhookEndpoints, "webhook_deliveries": c.Counts.WebhookDeliveries,
		"api_keys": c.Counts.APIKeys, "idempotency": c.Counts.Idempotency,
	} {
		if want := countRows(t, s, table); n != want || n == 0 {
			t.Errorf("%s: exported %d, table has %d (and must not be empty)", table, n, want)
		}
	}
	// The dependency order the package doc promises.
	var kinds []string
	for _, r := range rec.recs {
		k := strings.TrimPrefix(fmt.Sprintf("%T", r), "storecopy.")
		if len(kinds) == 0 || kinds[len(kinds)-1] != k {
			kinds = append(kinds, k)
		}
	}
	want := []string{"Meta", "Domain", "Account", "AppPassword", "Alias", "Mailbox", "Body", "Message", "Change",
		"Queued", "Event", "Suppression", "WebhookEndpoint", "WebhookDelivery", "APIKey", "Idempotency"}
	if !slices.Equal(kinds, want) {
		t.Errorf("record order %v, want %v", kinds, want)
	}

	var uv int64
	if err := s.rdb.QueryRow(`SELECT value FROM meta WHERE key = 'uidvalidity'`).Scan(&uv); err != nil {
		t.Fatal(err)
	}
	if m := records[storecopy.Meta](rec); m[0].UIDValidity != uint32(uv) || uv == 0 {
		t.Errorf("meta %+v, stored %d", m, uv)
	}
	for _, a := range records[storecopy.Account](rec) {
		_, cred, err := s.Credentials(ctx, a.Address)
		if err != nil {
			t.Fatal(err)
		}
		if a.Credentials.PasswordHash != cred.PasswordHash || !bytes.Equal(a.Credentials.SCRAM.StoredKey, cred.SCRAM.StoredKey) ||
			a.Credentials.SCRAM.Iterations != cred.SCRAM.Iterations || a.DomainID == 0 {
			t.Errorf("account %s exported %+v, stored %+v", a.Address, a, cred)
		}
		if a.Address == f.Bob.Address && a.QuotaBytes != f.Bob.QuotaBytes {
			t.Errorf("bob's quota %d", a.QuotaBytes)
		}
	}
	aliases := records[storecopy.Alias](rec)
	if len(aliases) != 2 || !slices.Equal(aliases[0].Targets, []string{"alice@a.example", "bob@a.example"}) ||
		aliases[1].Address != "@b.example" || len(aliases[1].Targets) != 1 {
		t.Errorf("aliases %+v", aliases)
	}

	// Messages: as the store lists them, with the body they point to.
	bodies := map[int64][]byte{}
	for _, b := range records[storecopy.Body](rec) {
		bodies[b.ID] = b.Data
		if b.Structure == nil {
			t.Errorf("body %d without structure", b.ID)
		}
	}
	listed, err := s.Messages(ctx, f.AliceInbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	var exported []store.Message
	shared := map[int64]int{}
	for _, m := range records[storecopy.Message](rec) {
		shared[m.BodyID]++
		if m.MailboxID == f.AliceInbox.ID {
			exported = append(exported, m.Message)
		}
		body, err := s.MessageBody(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(bodies[m.BodyID], body) {
			t.Errorf("message %d: exported body %d differs", m.ID, m.BodyID)
		}
	}
	if len(exported) != len(listed) {
		t.Fatalf("exported %d INBOX messages, listed %d", len(exported), len(listed))
	}
	for i := range listed {
		if a, b := exported[i], listed[i]; a.ID != b.ID || a.UID != b.UID || a.ModSeq != b.ModSeq ||
			!slices.Equal(a.Flags, b.Flags) || !a.InternalDate.Equal(b.InternalDate) || a.Size != b.Size {
			t.Errorf("message %d: exported %+v, listed %+v", i, a, b)
		}
	}
	if slices.ContainsFunc(exported, func(m store.Message) bool { return slices.Contains(f.Expunged, m.UID) }) {
		t.Errorf("an expunged UID %v was exported", f.Expunged)
	}
	if !slices.ContainsFunc(slices.Collect(maps.Values(shared)), func(n int) bool { return n > 1 }) {
		t.Error("no body is shared by several messages")
	}
	var expunges int
	for _, c := range records[storecopy.Change](rec) {
		if c.Kind == store.ChangeExpunge {
			expunges++
		}
	}
	if expunges < len(f.Expunged) {
		t.Errorf("%d expunges in the change log, want at least %d", expunges, len(f.Expunged))
	}
	for _, mb := range records[storecopy.Mailbox](rec) {
		st, err := s.MailboxStatus(ctx, mb.ID)
		if err != nil {
			t.Fatal(err)
		}
		if mb.UIDNext != st.UIDNext || mb.HighestModSeq != st.HighestModSeq || mb.UIDValidity != st.UIDValidity {
			t.Errorf("mailbox %s: exported %+v, status %+v", mb.Name, mb, st)
		}
	}

	// The queue: bodies, a live lease, mixed recipient states.
	var leased bool
	for _, q := range records[storecopy.Queued](rec) {
		body, err := s.QueuedBody(ctx, q.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(q.Body, body) {
			t.Errorf("queued %d: body differs", q.ID)
		}
		if q.Lease != 0 && q.TrackingID != "" {
			leased = true
			if len(q.Status) != 3 || q.Status[0].State != store.RecipientDelivered || q.Status[2].State != store.RecipientFailed {
				t.Errorf("leased message's recipients %+v", q.Status)
			}
		}
	}
	if !leased {
		t.Error("no tracked queued message with a lease")
	}
}

// copyStore closes s and returns a second store on a copy of its file.
func copyStore(t *testing.T, s *Store) (src, dst *Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	to := filepath.Join(t.TempDir(), "copy.db")
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(s.path + suffix)
		if os.IsNotExist(err) && suffix != "" {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return openTest(t, s.path), openTest(t, to)
}
