package postgres

import (
	"net/netip"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/auth"
	"github.com/posthorn/posthorn/internal/greylist"
)

// TestAsyncCommitStaysLocal: the greylist's and the throttle's
// asynchronous commits do not leak to the connection: on a pool of one
// connection, the next statement (say a delivery's) commits
// synchronously again. (The test cluster commits asynchronously: the
// connections here start with synchronous_commit on.)
func TestAsyncCommitStaysLocal(t *testing.T) {
	ctx := t.Context()
	st, err := Open(ctx, migratedDSN(t)+"&synchronous_commit=on", Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	syncCommit := func(after string) {
		t.Helper()
		var v string
		if err := st.pool.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&v); err != nil || v != "on" {
			t.Fatalf("after %s: synchronous_commit %q (%v), want on", after, v, err)
		}
	}
	syncCommit("opening")
	now := time.Unix(1_800_000_000, 0)
	r := greylist.Rules{Delay: time.Minute, Window: time.Hour, Expiry: 24 * time.Hour, Touch: time.Hour}
	if v, err := st.Greylist(ctx, greylist.Attempt{Net: netip.MustParsePrefix("192.0.2.0/24"), Sender: "s@x.test", Recipient: "r@y.test", Now: now, Rules: r}); err != nil || v != greylist.FirstSeen {
		t.Fatalf("Greylist: %v, %v", v, err)
	}
	syncCommit("Greylist")
	if _, err := st.AddLoginFailures(ctx, now, time.Minute, 10, []auth.FailureKey{{Key: "user:a", Limit: 5}}); err != nil {
		t.Fatal(err)
	}
	syncCommit("AddLoginFailures")
	if err := st.ClearLoginFailures(ctx, "user:a", now); err != nil {
		t.Fatal(err)
	}
	syncCommit("ClearLoginFailures")
}
