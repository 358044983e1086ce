package postgres

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Watch registrations. A write announces a mailbox's change with
// pg_notify only if some node watches the mailbox or its account: a row
// in mail_watches (migration 10), keyed by the backend PID of the
// watching node's LISTEN connection. PostgreSQL wakes every listening
// backend for every notification, and each wake-up costs the database
// and every node CPU, which is most of what a small commit costs; mail
// nobody has open (most of it, on an MX) now costs none of it.
//
// No change is missed: registering takes the watched mailbox's row FOR
// SHARE (an account's: the account row, then all its mailbox rows), and
// every write that announces a change holds a lock on that row that
// conflicts with it (an UPDATE, or FOR NO KEY UPDATE) before it looks
// for watchers in a later statement (a fresh snapshot, READ COMMITTED).
// So either the write commits before the registration gets its lock, and
// the watcher's read after Watch returns sees it, or the write's look
// for watchers comes after the registration committed, and it notifies.
//
// A node registers a mailbox once, when its first watch starts, and
// removes the row when the mailbox has gone unwatched for watchLinger
// (so reselecting a mailbox costs no round trip). Rows of a LISTEN
// connection that no longer exists (a node that died, or whose listener
// reconnected) are swept by the sweeper of every node; until then they
// only cost notifications nobody reads. After the listener reconnects,
// with a new PID, the node registers everything again before it wakes
// its watchers.

// watchSchema is migration 10. mailbox_id 0 is a watch of a whole
// account; account_id is 0 for a mailbox's watch. UNLOGGED: after a
// crash the table is empty, and every node, its LISTEN connection lost
// too, registers again.
const watchSchema = `
CREATE UNLOGGED TABLE mail_watches (
	mailbox_id bigint NOT NULL,
	account_id bigint NOT NULL,
	listener   integer NOT NULL,
	PRIMARY KEY (mailbox_id, account_id, listener)
);
`

// sqlWatched is the condition, on a mailbox m of an account a, that
// some node watches it (the mailbox, or the account as a whole).
func sqlWatched(a, m string) string {
	return `(EXISTS (SELECT 1 FROM mail_watches w WHERE w.mailbox_id = ` + m + ` AND ` + m + ` <> 0)
		OR EXISTS (SELECT 1 FROM mail_watches w WHERE w.mailbox_id = 0 AND w.account_id = ` + a + `))`
}

// defaultWatchLinger is how long a node keeps a mailbox registered after
// its last watch ended.
const defaultWatchLinger = time.Minute

// watchKey is a registration: a mailbox (account 0) or an account
// (mailbox 0).
type watchKey struct{ mailbox, account int64 }

type watchEntry struct {
	sem        chan struct{} // held (a token in it) while the key's row is written
	registered bool          // guarded by sem

	refs     int           // watches of the key; guarded by watches.mu
	idle     time.Time     // when refs fell to 0; guarded by watches.mu
	sweeping chan struct{} // closed when the sweep of the row is done; guarded by watches.mu
}

// watches is a Store's registrations.
type watches struct {
	mu       sync.Mutex
	m        map[watchKey]*watchEntry
	listener atomic.Uint32 // PID of the LISTEN connection
	linger   time.Duration
}

// Watch implements store.Mail.
func (s *Store) Watch(ctx context.Context, mailboxID int64) (<-chan struct{}, func(), error) {
	ch, cancel := s.notify.Watch(mailboxID)
	return s.watched(ctx, watchKey{mailbox: mailboxID}, ch, cancel)
}

// WatchAccount implements store.Mail.
func (s *Store) WatchAccount(ctx context.Context, accountID int64) (<-chan struct{}, func(), error) {
	ch, cancel := s.notify.WatchAccount(accountID)
	return s.watched(ctx, watchKey{account: accountID}, ch, cancel)
}

// watched registers k for the local watch (ch, cancel), which is in
// place first so that nothing announced after the registration is lost.
func (s *Store) watched(ctx context.Context, k watchKey, ch <-chan struct{}, cancel func()) (<-chan struct{}, func(), error) {
	e, err := s.acquireWatch(ctx, k)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			cancel()
			s.releaseWatch(e)
		})
	}, nil
}

// acquireWatch counts a watch of k and registers k if it is not yet.
func (s *Store) acquireWatch(ctx context.Context, k watchKey) (*watchEntry, error) {
	w := &s.watches
	var e *watchEntry
	for {
		w.mu.Lock()
		e = w.m[k]
		if e != nil && e.sweeping != nil {
			done := e.sweeping
			w.mu.Unlock()
			select {
			case <-done:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if e == nil {
			e = &watchEntry{sem: make(chan struct{}, 1)}
			w.m[k] = e
		}
		e.refs++
		w.mu.Unlock()
		break
	}
	select {
	case e.sem <- struct{}{}:
		defer func() { <-e.sem }()
	case <-ctx.Done():
		s.releaseWatch(e)
		return nil, ctx.Err()
	}
	if !e.registered {
		if err := s.register(ctx, []watchKey{k}); err != nil {
			s.releaseWatch(e)
			return nil, s.mapErr(fmt.Errorf("watch: %w", err))
		}
		e.registered = true
	}
	return e, nil
}

// releaseWatch uncounts a watch; the sweeper removes the registration
// once the key has gone unwatched for the linger time.
func (s *Store) releaseWatch(e *watchEntry) {
	s.watches.mu.Lock()
	defer s.watches.mu.Unlock()
	e.refs--
	if e.refs == 0 {
		e.idle = time.Now()
	}
}

// register writes the rows of keys for the current LISTEN connection,
// each under its lock (see above): accounts first, in id order, then the
// mailboxes in id order in one statement, the order writers lock them in.
func (s *Store) register(ctx context.Context, keys []watchKey) error {
	pid := int32(s.watches.listener.Load())
	var boxes []int64
	var accounts []int64
	for _, k := range keys {
		if k.account != 0 {
			accounts = append(accounts, k.account)
		} else {
			boxes = append(boxes, k.mailbox)
		}
	}
	slices.Sort(accounts)
	return s.write(ctx, func(tx pgx.Tx, _ *touched) error {
		for _, a := range accounts {
			// Two statements: the second's snapshot, taken once the
			// account row is locked, sees a mailbox created meanwhile
			// (CreateMailbox locks the account row).
			if _, err := tx.Exec(ctx, `SELECT 1 FROM accounts WHERE id = $1 FOR SHARE`, a); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `WITH l AS (SELECT 1 FROM mailboxes WHERE account_id = $1 ORDER BY id FOR SHARE)
				INSERT INTO mail_watches (mailbox_id, account_id, listener)
				SELECT 0, $1, $2 WHERE (SELECT count(*) FROM l) >= 0
				ON CONFLICT DO NOTHING`, a, pid)
			if err != nil {
				return err
			}
		}
		if len(boxes) > 0 {
			_, err := tx.Exec(ctx, `WITH l AS (SELECT 1 FROM mailboxes WHERE id = ANY($1) ORDER BY id FOR SHARE)
				INSERT INTO mail_watches (mailbox_id, account_id, listener)
				SELECT b, 0, $2 FROM unnest($1::bigint[]) b WHERE (SELECT count(*) FROM l) >= 0
				ON CONFLICT DO NOTHING`, boxes, pid)
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// reregister registers every watched key again, for a new LISTEN
// connection. Keys nobody watches any more are forgotten instead (their
// old rows are stale, and a new watch registers them again).
func (s *Store) reregister(ctx context.Context) error {
	w := &s.watches
	w.mu.Lock()
	keys := make([]watchKey, 0, len(w.m))
	for k, e := range w.m {
		switch {
		case e.sweeping != nil:
		case e.refs == 0:
			delete(w.m, k)
		default:
			keys = append(keys, k)
		}
	}
	w.mu.Unlock()
	if len(keys) == 0 {
		return nil
	}
	return s.register(ctx, keys)
}

// sweepWatches removes the rows of keys unwatched for the linger time,
// and every node's rows whose LISTEN connection is gone.
func (s *Store) sweepWatches(ctx context.Context) error {
	w := &s.watches
	now := time.Now()
	var boxes, accounts []int64
	var swept []watchKey
	w.mu.Lock()
	for k, e := range w.m {
		if e.refs == 0 && e.sweeping == nil && now.Sub(e.idle) >= w.linger {
			e.sweeping = make(chan struct{})
			swept = append(swept, k)
			boxes, accounts = append(boxes, k.mailbox), append(accounts, k.account)
		}
	}
	w.mu.Unlock()
	pool, err := s.db()
	if err == nil && len(swept) > 0 {
		_, err = pool.Exec(ctx, `DELETE FROM mail_watches WHERE listener = $3
			AND (mailbox_id, account_id) IN (SELECT * FROM unnest($1::bigint[], $2::bigint[]))`,
			boxes, accounts, int32(w.listener.Load()))
	}
	// Even if the DELETE failed: a row left behind costs notifications,
	// never a missed one, and the key registers again when watched.
	w.mu.Lock()
	for _, k := range swept {
		close(w.m[k].sweeping)
		delete(w.m, k)
	}
	w.mu.Unlock()
	if err != nil {
		return err
	}
	return s.sweepDeadWatches(ctx)
}

// sweepDeadWatches removes the rows of LISTEN connections that no longer
// exist.
func (s *Store) sweepDeadWatches(ctx context.Context) error {
	pool, err := s.db()
	if err != nil {
		return err
	}
	_, err = pool.Exec(ctx, `DELETE FROM mail_watches WHERE listener NOT IN (SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL)`)
	return err
}

// watchSweeper runs sweepWatches every half linger until ctx ends.
func (s *Store) watchSweeper(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(s.watches.linger / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if err := s.sweepWatches(sctx); err != nil && ctx.Err() == nil {
				s.log.Debug("postgres: sweeping watch registrations", "err", err)
			}
			cancel()
		}
	}
}
