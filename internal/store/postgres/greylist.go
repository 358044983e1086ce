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

var greylistVerdicts = map[string]greylist.Verdict{
	"first":   greylist.FirstSeen,
	"soon":    greylist.TooSoon,
	"passed":  greylist.Passed,
	"network": greylist.KnownNetwork,
	"full":    greylist.NotRemembered,
}

// Greylist implements greylist.Shared: one call of posthorn_greylist.
func (s *Store) Greylist(ctx context.Context, a greylist.Attempt) (greylist.Verdict, error) {
	pool, err := s.db()
	if err != nil {
		return 0, err
	}
	r := a.Rules
	var v string
	err = pool.QueryRow(ctx, `SELECT posthorn_greylist($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		a.Net.String(), store.ValidText(a.Sender), store.ValidText(a.Recipient), a.Now.UnixMicro(),
		r.Delay.Microseconds(), r.Window.Microseconds(), r.Expiry.Microseconds(), r.Touch.Microseconds(), a.Full).Scan(&v)
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
