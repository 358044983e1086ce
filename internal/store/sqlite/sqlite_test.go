package sqlite

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/posthorn/posthorn/internal/store"
)

// Tests of what the conformance suite cannot see: the file, the writer,
// several processes.

func countRows(t *testing.T, s *Store, table string) int {
	t.Helper()
	var n int
	if err := s.rdb.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func setup(t *testing.T, s *Store, addrs ...string) []store.Account {
	t.Helper()
	ctx := t.Context()
	if err := s.AddDomain(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	var out []store.Account
	for _, a := range addrs {
		acct, err := s.AddAccount(ctx, a, store.Credentials{})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, acct)
	}
	return out
}

// TestBlobShared: one body row per delivery, shared by copies, gone with
// the last message (expunge, mailbox delete, account removal).
func TestBlobShared(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, filepath.Join(t.TempDir(), "db"))
	accts := setup(t, s, "a@example.org", "b@example.org")
	msgs, err := s.Deliver(ctx, store.Delivery{Body: []byte("body"), Targets: []store.Target{
		{AccountID: accts[0].ID}, {AccountID: accts[1].ID}, {AccountID: accts[1].ID, Mailbox: "Archive"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, s, "blobs"); n != 1 {
		t.Fatalf("%d blobs after one delivery to 3 mailboxes", n)
	}
	trash, _ := s.Mailbox(ctx, accts[0].ID, "Trash")
	if _, _, err := s.Move(ctx, msgs[0].MailboxID, []uint32{msgs[0].UID}, trash.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteMailbox(ctx, accts[0].ID, "Trash"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveAccount(ctx, "b@example.org"); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, s, "blobs"); n != 0 {
		t.Errorf("%d blobs left after every message went", n)
	}
	if n := countRows(t, s, "messages"); n != 0 {
		t.Errorf("%d messages left", n)
	}
}

// queueBatch makes the requests of fns form one batch: it holds the
// writer busy while queueing them, then waits for their answers.
func queueBatch(t *testing.T, s *Store, fns ...func(w *wtx) error) []*request {
	t.Helper()
	ctx := t.Context()
	started, release := make(chan struct{}), make(chan struct{})
	blocked := make(chan error)
	go func() {
		blocked <- s.write(ctx, func(w *wtx) error {
			close(started)
			<-release
			return nil
		})
	}()
	<-started // the writer is busy; what we queue now forms the next batch
	commits := s.commits.Load()
	var reqs []*request
	for _, fn := range fns {
		r := &request{ctx: ctx, fn: fn, done: make(chan struct{})}
		s.reqs <- r
		reqs = append(reqs, r)
	}
	close(release)
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		<-r.done
	}
	if got := s.commits.Load() - commits; got > 2 {
		t.Errorf("%d commits, want at most 2 (the blocker, then one batch)", got)
	}
	return reqs
}

func insertDomain(name string, fail bool) func(w *wtx) error {
	return func(w *wtx) error {
		if _, err := w.exec(`INSERT INTO domains (name, created) VALUES (?, 0)`, name); err != nil {
			return err
		}
		if fail {
			return fmt.Errorf("request %s: %w", name, store.ErrInvalid)
		}
		return nil
	}
}

// TestBatchSavepoints: requests that share one commit fail alone.
func TestBatchSavepoints(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, filepath.Join(t.TempDir(), "db"))
	reqs := queueBatch(t, s, insertDomain("one", false), insertDomain("two", true),
		insertDomain("three", false), insertDomain("one", false))
	if reqs[0].err != nil || reqs[2].err != nil {
		t.Errorf("good requests failed: %v, %v", reqs[0].err, reqs[2].err)
	}
	if !errors.Is(reqs[1].err, store.ErrInvalid) {
		t.Errorf("failing request: %v", reqs[1].err)
	}
	if !isUniqueViolation(reqs[3].err) {
		t.Errorf("duplicate insert: %v", reqs[3].err)
	}
	for name, want := range map[string]bool{"one": true, "two": false, "three": true} {
		if ok, _ := s.HasDomain(ctx, name); ok != want {
			t.Errorf("domain %s stored = %v, want %v", name, ok, want)
		}
	}
}

// TestBatchAborted: a request that loses the whole transaction fails the
// whole batch, including requests that had succeeded before it.
func TestBatchAborted(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, filepath.Join(t.TempDir(), "db"))
	reqs := queueBatch(t, s, insertDomain("one", false), func(w *wtx) error {
		if err := w.execRaw("ROLLBACK"); err != nil {
			return err
		}
		return store.ErrInvalid
	}, insertDomain("three", false))
	for i, r := range reqs {
		if !errors.Is(r.err, errTxAborted) {
			t.Errorf("request %d: %v, want the batch aborted", i, r.err)
		}
	}
	for _, name := range []string{"one", "three"} {
		if ok, _ := s.HasDomain(ctx, name); ok {
			t.Errorf("domain %s stored by an aborted batch", name)
		}
	}
	if err := s.AddDomain(ctx, "after"); err != nil {
		t.Errorf("write after an aborted batch: %v", err)
	}
}

// TestTwoProcesses: two stores on one file (as a CLI beside the server)
// write concurrently without losing or duplicating anything.
func TestTwoProcesses(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "db")
	s1 := openTest(t, path)
	acct := setup(t, s1, "a@example.org")[0]
	s2 := openTest(t, path)
	const each = 40
	var wg sync.WaitGroup
	for _, s := range []*Store{s1, s2} {
		for i := range each {
			wg.Go(func() {
				if _, err := s.Deliver(ctx, store.Delivery{Body: []byte("x"), Targets: []store.Target{{AccountID: acct.ID}}}); err != nil {
					t.Errorf("Deliver %d: %v", i, err)
				}
			})
		}
		wg.Go(func() {
			if _, err := s.CreateMailbox(ctx, acct.ID, fmt.Sprintf("box-%p", s), store.UseNone); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	inbox, err := s2.Mailbox(ctx, acct.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := s1.Messages(ctx, inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2*each || msgs[len(msgs)-1].UID != 2*each {
		t.Errorf("%d messages, last UID %d; want %d dense", len(msgs), msgs[len(msgs)-1].UID, 2*each)
	}
	mbs, _ := s1.Mailboxes(ctx, acct.ID)
	uvs := map[uint32]bool{}
	for _, mb := range mbs {
		uvs[mb.UIDValidity] = true
	}
	if len(uvs) != len(mbs) {
		t.Errorf("UIDVALIDITY repeated across processes: %+v", mbs)
	}
}

// TestCloseDrains: writes racing Close either commit or fail with
// ErrClosed; none is lost after a nil return.
func TestCloseDrains(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	acct := setup(t, s, "a@example.org")[0]
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 100 {
		wg.Go(func() {
			_, err := s.Deliver(ctx, store.Delivery{Body: []byte("x"), Targets: []store.Target{{AccountID: acct.ID}}})
			switch {
			case err == nil:
				mu.Lock()
				ok++
				mu.Unlock()
			case !errors.Is(err, store.ErrClosed):
				t.Errorf("Deliver: %v", err)
			}
		})
	}
	wg.Go(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	wg.Wait()
	s = openTest(t, path)
	inbox, _ := s.Mailbox(ctx, acct.ID, store.Inbox)
	st, err := s.MailboxStatus(ctx, inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Messages != ok {
		t.Errorf("%d messages stored, %d Deliver calls returned nil", st.Messages, ok)
	}
}

func TestSchemaVersion(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var v int
	if err := s.rdb.QueryRow(`SELECT version FROM schema_version`).Scan(&v); err != nil || v != len(migrations) {
		t.Errorf("schema_version = %d, %v; want %d", v, err, len(migrations))
	}
	if err := s.write(ctx, func(w *wtx) error {
		_, err := w.exec(`UPDATE schema_version SET version = version + 1`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(ctx, path, Options{}); err == nil {
		s.Close()
		t.Error("Open of a database from a newer version succeeded")
	}
}

// TestMessageBodyNotShared: MessageBody hands out the driver's buffer
// without copying it again, which is only right while the driver gives
// each row a fresh slice: later reads must not change an earlier result.
func TestMessageBodyNotShared(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, filepath.Join(t.TempDir(), "db"))
	accts := setup(t, s, "a@example.org")
	var ids []int64
	for _, b := range []string{"first body", "second, longer body", "third"} {
		m, err := s.Deliver(ctx, store.Delivery{Body: []byte(b), Targets: []store.Target{{AccountID: accts[0].ID}}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m[0].ID)
	}
	first, err := s.MessageBody(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		for _, id := range ids[1:] {
			if _, err := s.MessageBody(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	if string(first) != "first body" {
		t.Fatalf("an earlier MessageBody result changed to %q", first)
	}
	first[0] = 'X' // the caller's to modify
	if again, _ := s.MessageBody(ctx, ids[0]); string(again) != "first body" {
		t.Fatalf("modifying a result changed the stored body: %q", again)
	}
}

// TestStatusCounters: the per-mailbox counters the triggers keep (size,
// messages, unseen, deleted) equal a recount after a random mix of every
// write that adds, changes or removes messages.
func TestStatusCounters(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, filepath.Join(t.TempDir(), "db"))
	accts := setup(t, s, "a@example.org", "b@example.org")
	var boxes []int64
	for _, name := range []string{store.Inbox, "Archive", "Trash"} {
		mb, err := s.Mailbox(ctx, accts[0].ID, name)
		if err != nil {
			t.Fatal(err)
		}
		boxes = append(boxes, mb.ID)
	}
	flagSets := [][]string{nil, {`\Seen`}, {`\Deleted`}, {`\Seen`, `\Deleted`, "$K"}, {`\Flagged`}}
	ops := []store.FlagOp{store.FlagsAdd, store.FlagsRemove, store.FlagsReplace}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 400 {
		box := boxes[rng.IntN(len(boxes))]
		uids := []uint32{uint32(rng.IntN(60) + 1), uint32(rng.IntN(60) + 1)}
		var err error
		switch rng.IntN(7) {
		case 0:
			_, err = s.Deliver(ctx, store.Delivery{Body: make([]byte, rng.IntN(500)), Targets: []store.Target{
				{AccountID: accts[0].ID, Flags: flagSets[rng.IntN(len(flagSets))]}, {AccountID: accts[1].ID}}})
		case 1:
			_, err = s.Append(ctx, box, store.AppendOptions{Flags: flagSets[rng.IntN(len(flagSets))]}, make([]byte, rng.IntN(500)))
		case 2, 3:
			_, _, err = s.UpdateFlags(ctx, box, uids, ops[rng.IntN(len(ops))], flagSets[rng.IntN(len(flagSets))], 0)
		case 4:
			_, err = s.Expunge(ctx, box, nil)
		case 5:
			_, _, err = s.Copy(ctx, box, uids, boxes[rng.IntN(len(boxes))])
		case 6:
			if to := boxes[rng.IntN(len(boxes))]; to != box {
				_, _, err = s.Move(ctx, box, uids, to)
			}
		}
		if err != nil {
			t.Fatalf("op %d: %v", i, err)
		}
	}
	// Something marked \Deleted is left to count.
	if _, _, err := s.UpdateFlags(ctx, boxes[0], upTo(200),
		store.FlagsAdd, []string{`\Deleted`}, 0); err != nil {
		t.Fatal(err)
	}
	var got, want []store.MailboxStatus
	rows, err := s.rdb.Query(`SELECT mb.id, count(m.id), coalesce(sum(m.sysflags & ?1 = 0), 0),
			coalesce(sum(m.sysflags & ?2 != 0), 0), coalesce(sum(m.size), 0)
		FROM mailboxes mb LEFT JOIN messages m ON m.mailbox_id = mb.id GROUP BY mb.id ORDER BY mb.id`, flagSeen, flagDeleted)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var w store.MailboxStatus
		if err := rows.Scan(&id, &w.Messages, &w.Unseen, &w.Deleted, &w.Size); err != nil {
			t.Fatal(err)
		}
		st, err := s.MailboxStatus(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, store.MailboxStatus{Messages: st.Messages, Unseen: st.Unseen, Deleted: st.Deleted, Size: st.Size})
		want = append(want, w)
	}
	rows.Close()
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("counters %+v\nrecount  %+v", got, want)
	}
	if want[0].Messages == 0 || want[0].Unseen == 0 || want[0].Deleted == 0 {
		t.Errorf("the mix left too little to check: %+v", want[0])
	}
}

// upTo returns the UIDs 1..n.
func upTo(n uint32) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = uint32(i) + 1
	}
	return out
}
