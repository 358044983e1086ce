package postgres

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/postgres/pgtest"
	"github.com/posthorn/posthorn/internal/testutil/poll"
)

// Several nodes on one database: what the conformance suite, which sees
// one Store, cannot check.

// twoNodes opens two Stores on one new database, as two posthorn nodes.
func twoNodes(t *testing.T) (a, b *Store) {
	t.Helper()
	dsn := pgtest.DSN(t)
	return openDSN(t, dsn), openDSN(t, dsn)
}

// addDomainSQL adds a served domain below the store API.
func addDomainSQL(t *testing.T, s *Store, name string) {
	t.Helper()
	if _, err := s.pool.Exec(t.Context(), `INSERT INTO domains (name, created) VALUES ($1, 0)`, name); err != nil {
		t.Fatal(err)
	}
}

// TestClaimsAcrossNodes: two nodes claiming the same queue at once get
// every message exactly once, and a lease that runs out on one node is
// taken over by the other, the first node's result then changing nothing.
func TestClaimsAcrossNodes(t *testing.T) {
	a, b := twoNodes(t)
	ctx := t.Context()
	const n = 300
	for i := range n {
		if _, err := a.Enqueue(ctx, store.QueuedMessage{Recipients: []string{"r@remote.test"}, Body: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	claimedBy := map[int64]string{}
	leases := map[int64]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		node, name := a, "a"
		if i%2 == 1 {
			node, name = b, "b"
		}
		wg.Go(func() {
			for {
				ms, err := node.ClaimQueued(ctx, time.Now(), time.Hour, 5, "node-a")
				if err != nil {
					errs <- err
					return
				}
				if len(ms) == 0 {
					return
				}
				mu.Lock()
				for _, m := range ms {
					if prev, ok := claimedBy[m.ID]; ok {
						t.Errorf("message %d claimed by %s and again by %s", m.ID, prev, name)
					}
					if leases[m.Lease] {
						t.Errorf("lease token %d handed out twice", m.Lease)
					}
					claimedBy[m.ID], leases[m.Lease] = name, true
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(claimedBy) != n {
		t.Fatalf("claimed %d messages, want %d", len(claimedBy), n)
	}
	byNode := map[string]int{}
	for _, name := range claimedBy {
		byNode[name]++
	}
	t.Logf("claims per node: %v", byNode)

	// Takeover: node a claims with a short lease and "dies"; after the
	// lease's end node b claims it, and a's late result is refused.
	id, err := a.Enqueue(ctx, store.QueuedMessage{Recipients: []string{"x@remote.test"}, Body: []byte("x"), NextAttempt: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(-30 * time.Minute) // before the 300 claimed above come due
	got, err := a.ClaimQueued(ctx, now, time.Minute, 10, "node-a")
	if err != nil || len(got) != 1 || got[0].ID != id {
		t.Fatalf("a's claim = %+v, %v", got, err)
	}
	if during, _ := b.ClaimQueued(ctx, now.Add(30*time.Second), time.Minute, 10, "node-a"); len(during) != 0 {
		t.Fatalf("b claimed during a's lease: %+v", during)
	}
	taken, err := b.ClaimQueued(ctx, now.Add(2*time.Minute), time.Minute, 10, "node-a")
	if err != nil || len(taken) != 1 || taken[0].ID != id || taken[0].Lease == got[0].Lease {
		t.Fatalf("b's claim after a's lease ran out = %+v, %v", taken, err)
	}
	late := store.Attempt{ID: id, Lease: got[0].Lease, Results: []store.RecipientStatus{{Address: "x@remote.test", State: store.RecipientDelivered}}}
	if err := a.FinishAttempt(ctx, late); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("a's FinishAttempt after the takeover: %v, want ErrLeaseLost", err)
	}
	if m, err := b.QueuedMessage(ctx, id); err != nil || m.Lease != taken[0].Lease || len(m.Recipients) != 1 {
		t.Fatalf("after a's refused result: %+v, %v; want b's lease and the recipient pending", m, err)
	}
	late.Lease = taken[0].Lease
	if err := b.FinishAttempt(ctx, late); err != nil {
		t.Fatal(err)
	}
	if _, err := a.QueuedMessage(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("message still queued after b delivered it: %v", err)
	}
}

// TestWebhookClaimsAcrossNodes: webhook deliveries are claimed once
// across nodes too, and a delivery written on one node wakes the other
// node's worker (OnWebhookDeliveries over NOTIFY).
func TestWebhookClaimsAcrossNodes(t *testing.T) {
	a, b := twoNodes(t)
	ctx := t.Context()
	addDomainSQL(t, a, "example.org")
	woken := make(chan struct{}, 1)
	b.OnWebhookDeliveries(func() {
		select {
		case woken <- struct{}{}:
		default:
		}
	})
	if _, err := a.AddWebhookEndpoint(ctx, store.WebhookEndpoint{Domain: "example.org", URL: "https://app.test/h", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	const n = 200
	evs := make([]store.Event, n)
	for i := range evs {
		evs[i] = store.Event{Type: store.EventDelivered, Domain: "example.org", Recipient: fmt.Sprintf("r%d@x.test", i)}
	}
	if _, err := a.RecordEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	select {
	case <-woken:
	case <-time.After(10 * time.Second):
		t.Fatal("node b's webhook worker was not woken by node a's deliveries")
	}
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for i := range 6 {
		node := []*Store{a, b}[i%2]
		wg.Go(func() {
			for {
				ds, err := node.ClaimWebhookDeliveries(ctx, time.Now().Add(time.Second), time.Hour, 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(ds) == 0 {
					return
				}
				mu.Lock()
				for _, d := range ds {
					seen[d.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("claimed %d deliveries, want %d", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("delivery %d claimed %d times", id, k)
		}
	}
}

// TestEventCursorWaitsForWriters: an event whose transaction took its seq
// first but commits last is not skipped by a reader paging by seq. The
// slow transaction holds seq s1 uncommitted while another node commits
// s2 > s1; a reader must not return s2 without s1 (it waits for the slow
// transaction instead).
func TestEventCursorWaitsForWriters(t *testing.T) {
	a, b := twoNodes(t)
	ctx := t.Context()
	tx, err := a.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	slow := []store.Event{{Type: store.EventDelivered, Domain: "example.org", Recipient: "slow@x.test"}}
	if err := a.addEvents(ctx, tx, slow, time.Now()); err != nil {
		t.Fatal(err)
	}
	fast, err := b.RecordEvents(ctx, []store.Event{{Type: store.EventDelivered, Domain: "example.org", Recipient: "fast@x.test"}})
	if err != nil {
		t.Fatal(err)
	}
	if fast[0].Seq <= slow[0].Seq {
		t.Fatalf("seqs: slow %d, fast %d; want the slow one first", slow[0].Seq, fast[0].Seq)
	}
	type result struct {
		evs []store.Event
		err error
	}
	read := make(chan result, 1)
	go func() {
		evs, err := b.QueryEvents(ctx, store.EventFilter{Domain: "example.org"})
		read <- result{evs, err}
	}()
	select {
	case r := <-read:
		t.Fatalf("QueryEvents returned %d events (%v) while an earlier seq was uncommitted", len(r.evs), r.err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var r result
	select {
	case r = <-read:
	case <-time.After(30 * time.Second):
		t.Fatal("QueryEvents still waiting after the slow transaction committed")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	var got []string
	for _, e := range r.evs {
		got = append(got, e.Recipient)
	}
	if !slices.Equal(got, []string{"slow@x.test", "fast@x.test"}) {
		t.Errorf("events = %q, want the slow one and then the fast one", got)
	}
}

// TestEventCursorConcurrent: a reader paging with the seq cursor while
// writers on two nodes record events (some in transactions that roll
// back) sees every committed event exactly once.
func TestEventCursorConcurrent(t *testing.T) {
	a, b := twoNodes(t)
	ctx := t.Context()
	const writers, perWriter = 6, 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	committed := map[string]bool{}
	for w := range writers {
		node := []*Store{a, b}[w%2]
		wg.Go(func() {
			for i := range perWriter {
				rcpt := fmt.Sprintf("w%d-%d@x.test", w, i)
				if i%5 == 4 { // rolled back: its seq must leave no hole that blocks or confuses
					tx, err := node.pool.Begin(ctx)
					if err != nil {
						t.Error(err)
						return
					}
					err = node.addEvents(ctx, tx, []store.Event{{Type: store.EventBounced, Domain: "example.org", Recipient: rcpt}}, time.Now())
					tx.Rollback(ctx)
					if err != nil {
						t.Error(err)
						return
					}
					continue
				}
				if _, err := node.RecordEvents(ctx, []store.Event{{Type: store.EventDelivered, Domain: "example.org", Recipient: rcpt}}); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				committed[rcpt] = true
				mu.Unlock()
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	seen := map[string]bool{}
	var after int64
	page := func() int {
		evs, err := b.QueryEvents(ctx, store.EventFilter{Domain: "example.org", After: after, Limit: 7})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if seen[e.Recipient] {
				t.Errorf("event of %s read twice", e.Recipient)
			}
			seen[e.Recipient] = true
			after = e.Seq
		}
		return len(evs)
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		page()
	}
	for page() > 0 {
	}
	for r := range committed {
		if !seen[r] {
			t.Errorf("committed event of %s skipped by the cursor", r)
		}
	}
	if len(seen) != len(committed) {
		t.Errorf("read %d events, %d committed", len(seen), len(committed))
	}
}

// TestKeyCacheAcrossNodes: a key looked up on node b is cached there; its
// revocation on node a (or by the CLI, any other connection) reaches b's
// cache through NOTIFY, and the revoking node's own cache at once.
func TestKeyCacheAcrossNodes(t *testing.T) {
	a, b := twoNodes(t)
	ctx := t.Context()
	addDomainSQL(t, a, "example.org")
	h := sha256.Sum256([]byte("ph_secret"))
	for _, name := range []string{"one", "two"} {
		if _, err := a.AddAPIKey(ctx, store.APIKey{Name: name, Domain: "example.org", Prefix: "ph_" + name, Hash: h[:]}); err != nil {
			t.Fatal(err)
		}
	}
	lookup := func(s *Store, prefix string) int {
		t.Helper()
		ks, err := s.APIKeysByPrefix(ctx, prefix)
		if err != nil {
			t.Fatal(err)
		}
		return len(ks)
	}
	waitCached(t, b, "ph_one")
	waitCached(t, a, "ph_one")
	if err := a.RemoveAPIKey(ctx, "one"); err != nil {
		t.Fatal(err)
	}
	if n := lookup(a, "ph_one"); n != 0 {
		t.Errorf("the revoking node still finds the key (%d)", n)
	}
	poll.Until(t, 10*time.Second, "node b drops the revoked key", func() bool { return lookup(b, "ph_one") == 0 })

	// A revocation by another connection (the CLI) directly in SQL.
	waitCached(t, b, "ph_two")
	if _, err := a.pool.Exec(ctx, `DELETE FROM api_keys WHERE name = 'two'`); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, "node b drops a key deleted by another client", func() bool { return lookup(b, "ph_two") == 0 })

	// Removing the domain removes its keys (a cascade, no API call).
	if _, err := a.AddAPIKey(ctx, store.APIKey{Name: "three", Domain: "example.org", Prefix: "ph_three", Hash: h[:]}); err != nil {
		t.Fatal(err)
	}
	waitCached(t, a, "ph_three")
	waitCached(t, b, "ph_three")
	if err := a.RemoveDomain(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	if n := lookup(a, "ph_three"); n != 0 {
		t.Errorf("the node that removed the domain still finds its key (%d)", n)
	}
	poll.Until(t, 10*time.Second, "node b drops the key of a removed domain", func() bool { return lookup(b, "ph_three") == 0 })
}

// TestKeyCacheListenerLost: while a node's listener connection is down
// it caches nothing (revocations could be missed), and after the
// reconnection it starts from an empty cache.
func TestKeyCacheListenerLost(t *testing.T) {
	a, b := twoNodes(t)
	ctx := t.Context()
	addDomainSQL(t, a, "example.org")
	h := sha256.Sum256([]byte("ph_secret"))
	if _, err := a.AddAPIKey(ctx, store.APIKey{Name: "k", Domain: "example.org", Prefix: "ph_k", Hash: h[:]}); err != nil {
		t.Fatal(err)
	}
	waitCached(t, b, "ph_k")
	pid := b.caches.listenerPID.Load()
	if pid == 0 {
		t.Fatal("no listener pid")
	}
	// Cut b's listener; the revocation below may be committed before b
	// has reconnected, its notification lost.
	if _, err := a.pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, int32(pid)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.pool.Exec(ctx, `DELETE FROM api_keys WHERE name = 'k'`); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 20*time.Second, "node b reconnects its listener", func() bool {
		p := b.caches.listenerPID.Load()
		return p != 0 && p != pid
	})
	if ks, err := b.APIKeysByPrefix(ctx, "ph_k"); err != nil || len(ks) != 0 {
		t.Errorf("after the listener came back, node b still finds the revoked key: %+v, %v", ks, err)
	}
	// And it caches again.
	if _, err := a.AddAPIKey(ctx, store.APIKey{Name: "k2", Domain: "example.org", Prefix: "ph_k2", Hash: h[:]}); err != nil {
		t.Fatal(err)
	}
	waitCached(t, b, "ph_k2")
}

// waitCached looks prefix up on s until the answer is served from s's
// key cache (a notification of an earlier change may still move the
// generation on), bounded.
func waitCached(t *testing.T, s *Store, prefix string) {
	t.Helper()
	poll.Until(t, 10*time.Second, "key "+prefix+" cached", func() bool {
		if ks, err := s.APIKeysByPrefix(t.Context(), prefix); err != nil || len(ks) != 1 {
			t.Fatalf("APIKeysByPrefix(%s) = %+v, %v", prefix, ks, err)
		}
		gen, live := s.caches.gen.current()
		_, hit := s.caches.keys.get(gen, live, prefix)
		return hit
	})
}

// TestEventCursorSoftDeadlock: a waiting reader does not deadlock
// writers. Writer 1 holds the event lock (shared) and waits for a row
// writer 2 holds; a reader then waits for writer 1; writer 2, asking for
// the shared event lock only now, queues behind the reader: a cycle
// through the lock queue that PostgreSQL resolves (soft deadlock). All
// three finish and the reader sees both events.
func TestEventCursorSoftDeadlock(t *testing.T) {
	a, b := twoNodes(t)
	ctx := t.Context()
	addDomainSQL(t, a, "example.org")
	tx2, err := b.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx2.Rollback(context.Background())
	if _, err := tx2.Exec(ctx, `UPDATE domains SET created = 1 WHERE name = 'example.org'`); err != nil {
		t.Fatal(err)
	}
	tx1, err := a.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx1.Rollback(context.Background())
	if err := a.addEvents(ctx, tx1, []store.Event{{Type: store.EventDelivered, Domain: "example.org", Recipient: "one@x.test"}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	w1 := make(chan error, 1)
	go func() { // waits for tx2's row
		_, err := tx1.Exec(ctx, `UPDATE domains SET created = 2 WHERE name = 'example.org'`)
		if err == nil {
			err = tx1.Commit(ctx)
		}
		w1 <- err
	}()
	read := make(chan []store.Event, 1)
	readErr := make(chan error, 1)
	go func() {
		evs, err := a.QueryEvents(ctx, store.EventFilter{Domain: "example.org"})
		readErr <- err
		read <- evs
	}()
	// Let the reader queue for the exclusive lock (waiting on tx1).
	poll.Until(t, 10*time.Second, "the reader waiting for the event lock", func() bool {
		var n int
		a.pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND mode = 'ExclusiveLock'`).Scan(&n)
		return n == 1
	})
	err2 := b.addEvents(ctx, tx2, []store.Event{{Type: store.EventDelivered, Domain: "example.org", Recipient: "two@x.test"}}, time.Now())
	if err2 == nil {
		err2 = tx2.Commit(ctx)
	}
	if err2 != nil {
		t.Errorf("writer 2: %v", err2)
	}
	var err1 error
	select {
	case err1 = <-w1:
	case <-time.After(30 * time.Second):
		t.Fatal("writer 1 stuck")
	}
	if err1 != nil {
		t.Errorf("writer 1: %v", err1)
	}
	var evs []store.Event
	select {
	case err := <-readErr:
		evs = <-read
		if err != nil {
			t.Fatalf("reader: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("reader stuck")
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.Recipient)
	}
	if !slices.Equal(got, []string{"one@x.test", "two@x.test"}) {
		t.Errorf("reader saw %q, want both events", got)
	}
}
