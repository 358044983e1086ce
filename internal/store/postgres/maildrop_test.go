package postgres

import (
	"errors"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// TestMaildropLockAcrossNodes: the POP3 maildrop lock of one node holds
// on another node of the same database: refused while held and renewed,
// taken over once the first node's lease has run out (a dead node), free
// at once after a release; the first node's renewal then fails.
func TestMaildropLockAcrossNodes(t *testing.T) {
	a, b := twoNodes(t)
	ctx := t.Context()
	addDomainSQL(t, a, "example.org")
	acct, err := a.AddAccount(ctx, "alice@example.org", store.Credentials{PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	const lease = time.Minute
	now := time.Now()
	lock := func(s *Store, holder string, at time.Time) bool {
		t.Helper()
		ok, err := s.LockMaildrop(ctx, acct.ID, holder, at, lease)
		if err != nil {
			t.Fatalf("LockMaildrop(%q): %v", holder, err)
		}
		return ok
	}
	if !lock(a, "node-a-1", now) {
		t.Fatal("node A could not take a free lock")
	}
	if lock(b, "node-b-1", now.Add(time.Second)) {
		t.Fatal("node B took the lock node A holds")
	}
	if err := a.RenewMaildropLock(ctx, acct.ID, "node-a-1", now.Add(40*time.Second), lease); err != nil {
		t.Fatal(err)
	}
	if lock(b, "node-b-1", now.Add(lease+time.Second)) {
		t.Fatal("node B took the lock within node A's renewed lease")
	}
	if !lock(b, "node-b-1", now.Add(40*time.Second+lease)) {
		t.Fatal("node B could not take over the lock after node A's lease ran out")
	}
	if err := a.RenewMaildropLock(ctx, acct.ID, "node-a-1", now.Add(2*lease), lease); !errors.Is(err, store.ErrLockLost) {
		t.Fatalf("node A's renewal after the takeover: %v, want ErrLockLost", err)
	}
	if err := b.UnlockMaildrop(ctx, acct.ID, "node-b-1"); err != nil {
		t.Fatal(err)
	}
	if !lock(a, "node-a-2", now.Add(40*time.Second+lease)) {
		t.Fatal("node A could not take the lock node B released")
	}
}

// TestMaildropLocksLostWithTable: the lock rows are in an UNLOGGED table,
// which PostgreSQL empties after a crash; a holder's renewal then fails
// rather than carrying on with a lock another node may take.
func TestMaildropLocksLostWithTable(t *testing.T) {
	a, b := twoNodes(t)
	ctx := t.Context()
	var persistence string
	if err := a.pool.QueryRow(ctx, `SELECT relpersistence FROM pg_class WHERE relname = 'maildrop_locks'`).Scan(&persistence); err != nil {
		t.Fatal(err)
	}
	if persistence != "u" {
		t.Errorf("maildrop_locks relpersistence %q, want u (unlogged)", persistence)
	}
	now := time.Now()
	if ok, err := a.LockMaildrop(ctx, 7, "node-a", now, time.Minute); err != nil || !ok {
		t.Fatalf("LockMaildrop: %v, %v", ok, err)
	}
	if _, err := a.pool.Exec(ctx, `TRUNCATE maildrop_locks`); err != nil { // what crash recovery does
		t.Fatal(err)
	}
	if ok, err := b.LockMaildrop(ctx, 7, "node-b", now, time.Minute); err != nil || !ok {
		t.Fatalf("node B after the table was emptied: %v, %v", ok, err)
	}
	if err := a.RenewMaildropLock(ctx, 7, "node-a", now.Add(time.Second), time.Minute); !errors.Is(err, store.ErrLockLost) {
		t.Fatalf("node A's renewal: %v, want ErrLockLost", err)
	}
}
