package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/posthorn/posthorn/internal/greylist"
	"github.com/posthorn/posthorn/internal/store"
)

// Greylisting state shared by every node (schema_greylist.go): the
// daemon hands the Store to greylist.Open as its greylist.Shared.

var _ greylist.Shared = (*Store)(nil)

// asyncCommit, evaluated in a statement that runs as a transaction of
// its own, lets its COMMIT return before the WAL reaches the disk
// (synchronous_commit off for that transaction only). The greylist and
// the login throttle write that way: a crash of the database loses at
// most their last few hundred milliseconds of changes (3 x
// wal_writer_delay), which delays some mail once more or forgets some
// failures, as the embedded setup's unsynced greylist file and in-memory
// throttle do; in exchange no RCPT or failed login waits for a WAL
// flush, nor holds the NOTIFY queue's lock (which orders every
// transaction that notifies, cluster-wide) while one runs. Changes are
// visible to every node at COMMIT as before.
const asyncCommit = `set_config('synchronous_commit', 'off', true)`

var greylistVerdicts = map[string]greylist.Verdict{
	"first":   greylist.FirstSeen,
	"soon":    greylist.TooSoon,
	"passed":  greylist.Passed,
	"network": greylist.KnownNetwork,
	"full":    greylist.NotRemembered,
}

// Greylist implements greylist.Shared: one call of posthorn_greylist,
// committed asynchronously (asyncCommit).
func (s *Store) Greylist(ctx context.Context, a greylist.Attempt) (greylist.Verdict, error) {
	pool, err := s.db()
	if err != nil {
		return 0, err
	}
	r := a.Rules
	var v string
	err = pool.QueryRow(ctx, `SELECT posthorn_greylist($1, $2, $3, $4, $5, $6, $7, $8, $9), `+asyncCommit,
		a.Net.String(), store.ValidText(a.Sender), store.ValidText(a.Recipient), a.Now.UnixMicro(),
		r.Delay.Microseconds(), r.Window.Microseconds(), r.Expiry.Microseconds(), r.Touch.Microseconds(), a.Full).Scan(&v, nil)
	if err != nil {
		return 0, s.mapErr(err)
	}
	verdict, ok := greylistVerdicts[v]
	if !ok {
		return 0, fmt.Errorf("posthorn_greylist: unknown result %q", v)
	}
	return verdict, nil
}

// SweepGreylist implements greylist.Shared.
func (s *Store) SweepGreylist(ctx context.Context, now time.Time, r greylist.Rules) (int, error) {
	pool, err := s.db()
	if err != nil {
		return 0, err
	}
	us := now.UnixMicro()
	if _, err := pool.Exec(ctx, `DELETE FROM greylist_triplets
		WHERE passed IS NULL AND first <= $1 OR passed <= $2`, us-r.Window.Microseconds(), us-r.Expiry.Microseconds()); err != nil {
		return 0, s.mapErr(err)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM greylist_networks WHERE last <= $1`, us-r.Expiry.Microseconds()); err != nil {
		return 0, s.mapErr(err)
	}
	var n int
	err = pool.QueryRow(ctx, `SELECT count(*) FROM greylist_triplets`).Scan(&n)
	return n, s.mapErr(err)
}
