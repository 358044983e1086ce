package postgres

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/posthorn/posthorn/internal/auth"
	"github.com/posthorn/posthorn/internal/auth/failuretest"
	"github.com/posthorn/posthorn/internal/store/postgres/pgtest"
)

// loginRecords counts login_failures' rows, overflow records included,
// and checks login_failures_size against the rows it counts.
func loginRecords(t *testing.T, st *Store) int {
	t.Helper()
	var all, counted, size int
	err := st.pool.QueryRow(t.Context(), `SELECT count(*), count(*) FILTER (WHERE key NOT LIKE 'overflow:%'),
		(SELECT n FROM login_failures_size) FROM login_failures`).Scan(&all, &counted, &size)
	if err != nil {
		t.Fatal(err)
	}
	if size != counted {
		t.Fatalf("login_failures_size says %d, the table has %d records (and %d overflow)", size, counted, all-counted)
	}
	return all
}

// TestLoginFailuresBound: the PostgreSQL store keeps the FailureStore
// bound (failuretest.Bound), its size row exact throughout.
func TestLoginFailuresBound(t *testing.T) {
	st := openDSN(t, migratedDSN(t))
	failuretest.Bound(t, st, 20, func() int { return loginRecords(t, st) })
}

// TestLoginFailuresBoundAcrossNodes: two nodes spraying failures of new
// keys at once, 8 callers each, never take the table past the bound;
// the size row stays exact through the once-a-minute cleanup and the
// clearing of a name.
func TestLoginFailuresBoundAcrossNodes(t *testing.T) {
	sa, sb := twoNodes(t)
	const bound = 30
	now := time.Unix(1_800_000_000, 0)
	ctx := t.Context()
	if _, err := sa.AddLoginFailures(ctx, now, time.Minute, bound, []auth.FailureKey{{Key: "user:keep", Limit: 5}}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	over := make(chan int, 1)
	wg.Go(func() { // watches the table while the callers write
		for {
			select {
			case <-stop:
				return
			default:
			}
			var n int
			if err := sa.pool.QueryRow(ctx, `SELECT count(*) FROM login_failures`).Scan(&n); err == nil && n > bound+2 {
				select {
				case over <- n:
				default:
				}
			}
		}
	})
	var callers sync.WaitGroup
	for g := range 16 {
		st := []*Store{sa, sb}[g%2]
		callers.Go(func() {
			for i := range 40 {
				keys := []auth.FailureKey{{Key: fmt.Sprintf("ip:10.%d.%d.9", g, i), Limit: 20}, {Key: fmt.Sprintf("user:n%d-%d", g, i), Limit: 10}}
				if _, err := st.AddLoginFailures(ctx, now, time.Minute, bound, keys); err != nil {
					t.Errorf("caller %d: %v", g, err)
					return
				}
			}
		})
	}
	callers.Wait()
	close(stop)
	wg.Wait()
	select {
	case n := <-over:
		t.Fatalf("%d rows seen while spraying, bound %d (+2 overflow records)", n, bound)
	default:
	}
	if n := loginRecords(t, sa); n != bound {
		t.Errorf("after the spray: %d records, want %d", n, bound)
	}
	// A name's clearing and the cleanup (a minute on) keep the size row exact.
	var name string
	if err := sa.pool.QueryRow(ctx, `SELECT key FROM login_failures WHERE key LIKE 'user:n%' LIMIT 1`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	if err := sb.ClearLoginFailures(ctx, name, now); err != nil {
		t.Fatal(err)
	}
	if n := loginRecords(t, sa); n != bound-1 {
		t.Errorf("after clearing %s: %d records, want %d", name, n, bound-1)
	}
	later := now.Add(3 * time.Minute)
	if _, err := sa.AddLoginFailures(ctx, later, time.Minute, bound, []auth.FailureKey{{Key: "user:late", Limit: 5}}); err != nil {
		t.Fatal(err)
	}
	if n := loginRecords(t, sa); n != 1 {
		t.Errorf("after the cleanup: %d records, want 1 (user:late)", n)
	}
}

// TestMigrateLoginBound opens a database of schema version 10 with
// failure records: migration 11 counts them (not the overflow record),
// a node not yet upgraded (migration 9's function, without the bound)
// still has its inserts counted, and the bound then holds.
func TestMigrateLoginBound(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.DSN(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range append(append([]string{}, migrations[:10]...),
		`CREATE TABLE schema_version (version integer NOT NULL)`,
		`INSERT INTO schema_version (version) VALUES (10)`,
		`INSERT INTO login_failures (key, failures, first) SELECT 'user:old' || i, 1, 0 FROM generate_series(1, 5) i`,
		`INSERT INTO login_failures (key, failures, first) VALUES ('overflow:user', 1, 0)`,
	) {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%.40s: %v", q, err)
		}
	}
	conn.Close(ctx)

	st := openDSN(t, dsn)
	if n := loginRecords(t, st); n != 6 {
		t.Fatalf("after the migration: %d rows, want 6", n)
	}
	if _, err := st.pool.Exec(ctx, `SELECT * FROM posthorn_login_failed(ARRAY['ip:old-node'], ARRAY[5], 1, 60000000)`); err != nil {
		t.Fatal(err)
	}
	if n := loginRecords(t, st); n != 7 {
		t.Fatalf("after an old node's failure: %d rows, want 7", n)
	}
	now := time.UnixMicro(2)
	if _, err := st.AddLoginFailures(ctx, now, time.Minute, 6, []auth.FailureKey{{Key: "user:new", Limit: 5}}); err != nil {
		t.Fatal(err)
	}
	if n := loginRecords(t, st); n != 7 {
		t.Errorf("a new key over the bound: %d rows, want still 7 (one replaced)", n)
	}
}
