package storecopy_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/posthorn/posthorn/internal/auth"
	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/postgres"
	"github.com/posthorn/posthorn/internal/store/postgres/pgtest"
	"github.com/posthorn/posthorn/internal/store/sqlite"
	"github.com/posthorn/posthorn/internal/store/storecopy"
	"github.com/posthorn/posthorn/internal/store/storecopy/storecopytest"
)

// migrated is a filled SQLite store copied into a new PostgreSQL
// database.
type migrated struct {
	src    *sqlite.Store
	dst    *postgres.Store
	dsn    string
	f      storecopytest.Filled
	counts storecopy.Counts
}

func migrate(t *testing.T) migrated {
	t.Helper()
	ctx := context.Background()
	src, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "posthorn.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	m := migrated{src: src, dsn: pgtest.DSN(t)}
	m.f = storecopytest.Fill(t, src)
	m.dst, err = postgres.Open(ctx, m.dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.dst.Close() })
	m.counts, err = m.dst.Import(ctx, src.Export)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestMigrate copies a store to PostgreSQL, verifies it, and checks that
// the copy goes on where the source stopped: new UIDs, MODSEQs, IDs and
// UIDVALIDITYs beyond every old one, the old passwords and API key.
func TestMigrate(t *testing.T) {
	ctx := context.Background()
	m := migrate(t)
	exported := storecopy.Counter{}
	if err := m.src.Export(ctx, &exported); err != nil {
		t.Fatal(err)
	}
	if m.counts != exported.Counts || m.counts.Messages == 0 || m.counts.Idempotency == 0 {
		t.Errorf("imported %v\nexported %v", m.counts, exported.Counts)
	}
	r, err := storecopy.Verify(ctx, m.src, m.dst, m.src.Export)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() {
		t.Fatalf("%d differences: %q", r.Mismatches, r.Differences)
	}
	c := r.Checked
	if c.Messages != m.counts.Messages || c.Changes != m.counts.Changes || c.Queued != m.counts.Queued ||
		c.WebhookDeliveries != m.counts.WebhookDeliveries || c.Accounts != m.counts.Accounts || c.Events != m.counts.Events ||
		c.Idempotency != m.counts.Idempotency {
		t.Errorf("verify checked %v\nbut the copy has %v", c, m.counts)
	}

	// The copy goes on from where the source stopped.
	f, dst := m.f, m.dst
	old, err := m.src.MailboxStatus(ctx, f.AliceInbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := dst.Deliver(ctx, store.Delivery{Body: []byte("Subject: after\r\n\r\nnew\r\n"),
		Targets: []store.Target{{AccountID: f.Alice.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].UID != old.UIDNext || got[0].ModSeq <= old.HighestModSeq || got[0].ID <= f.MaxMessageID {
		t.Errorf("new message %+v; old UIDNEXT %d, HIGHESTMODSEQ %d, highest message ID %d",
			got[0], old.UIDNext, old.HighestModSeq, f.MaxMessageID)
	}
	st, err := dst.MailboxStatus(ctx, f.AliceInbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Messages != old.Messages+1 || st.Size != old.Size+got[0].Size || st.Unseen != old.Unseen+1 {
		t.Errorf("status after a delivery %+v, before %+v", st, old)
	}
	mb, err := dst.CreateMailbox(ctx, f.Alice.ID, "After", store.UseNone)
	if err != nil {
		t.Fatal(err)
	}
	srcBoxes, err := m.src.Mailboxes(ctx, f.Alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range srcBoxes {
		if mb.UIDValidity <= b.UIDValidity || mb.ID <= b.ID {
			t.Errorf("new mailbox %+v not after old %+v", mb, b)
		}
	}
	q, err := dst.Enqueue(ctx, store.QueuedMessage{Recipients: []string{"n@remote.example"}, Body: []byte("x\r\n")})
	if err != nil {
		t.Fatal(err)
	}
	if q <= f.MaxQueueID {
		t.Errorf("new queue ID %d, old highest %d", q, f.MaxQueueID)
	}
	evs, err := dst.RecordEvents(ctx, []store.Event{{Type: store.EventSuppressed, Domain: "a.example"}})
	if err != nil {
		t.Fatal(err)
	}
	if evs[0].Seq <= int64(m.counts.Events) {
		t.Errorf("new event seq %d with %d events copied", evs[0].Seq, m.counts.Events)
	}

	// Old secrets work.
	svc := auth.NewService(dst, auth.ServiceOptions{})
	for _, pw := range []string{storecopytest.Password, f.AppPassword} {
		if _, err := svc.Login(ctx, auth.LoginRequest{Username: "alice@a.example", Password: pw,
			RemoteIP: net.IPv4(127, 0, 0, 1), Protocol: "imap"}); err != nil {
			t.Errorf("login with %q after the migration: %v", pw, err)
		}
	}
	keys, err := dst.APIKeysByPrefix(ctx, f.APIKey.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte(f.APIToken))
	if len(keys) != 1 || string(keys[0].Hash) != string(h[:]) || keys[0].ID != f.APIKey.ID {
		t.Errorf("API key after the migration: %+v", keys)
	}
	if _, err := dst.IdempotencyRecord(ctx, f.APIKey.ID, "req-1"); err != nil {
		t.Errorf("idempotency record: %v", err)
	}

	// A second migration into the same database is refused.
	if _, err := dst.Import(ctx, m.src.Export); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("import into a used database: %v", err)
	}
}

// TestMigrateFailureLeavesTargetEmpty: an export failing halfway leaves
// nothing behind, and the migration can be run again.
func TestMigrateFailureLeavesTargetEmpty(t *testing.T) {
	ctx := context.Background()
	m := migrate(t)
	dsn := pgtest.DSN(t)
	dst, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	broken := errors.New("disk on fire")
	_, err = dst.Import(ctx, func(ctx context.Context, sink storecopy.Sink) error {
		return m.src.Export(ctx, failAfter{Sink: sink, err: broken})
	})
	if !errors.Is(err, broken) {
		t.Fatalf("import: %v", err)
	}
	if ds, err := dst.Domains(ctx); err != nil || len(ds) != 0 {
		t.Fatalf("after a failed import: domains %v, %v", ds, err)
	}
	if _, err := dst.Import(ctx, m.src.Export); err != nil {
		t.Fatalf("import after a failed one: %v", err)
	}
	r, err := storecopy.Verify(ctx, m.src, dst, m.src.Export)
	if err != nil || !r.OK() {
		t.Fatalf("verify: %v %q", err, r.Differences)
	}
}

// failAfter fails at the first message, after the directory and the
// bodies went through.
type failAfter struct {
	storecopy.Sink
	err error
}

func (f failAfter) Message(context.Context, storecopy.Message) error { return f.err }

// TestVerifyFindsPostgresCorruption changes one row of the copy behind
// the store's back: Verify must name it.
func TestVerifyFindsPostgresCorruption(t *testing.T) {
	ctx := context.Background()
	m := migrate(t)
	conn, err := pgx.Connect(ctx, m.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `UPDATE messages SET keywords = 'Tampered' WHERE mailbox_id = $1 AND uid = 3`,
		m.f.AliceInbox.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `UPDATE blobs SET data = 'x' || data WHERE id = (SELECT blob_id FROM messages
		WHERE mailbox_id = $1 AND uid = 4)`, m.f.AliceInbox.ID); err != nil {
		t.Fatal(err)
	}
	r, err := storecopy.Verify(ctx, m.src, m.dst, m.src.Export)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(r.Differences, "\n")
	if r.OK() || !strings.Contains(all, "message of alice@a.example INBOX: UID 3") ||
		!strings.Contains(all, "body of alice@a.example INBOX UID 4") {
		t.Errorf("differences %q, want UID 3's flags and UID 4's body", r.Differences)
	}
}
