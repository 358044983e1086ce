package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/posthorn/posthorn/internal/store"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Helpers for the read pool and for mapping SQLite errors to the store's.

// readStmts caches the read pool's prepared statements; database/sql
// prepares each on a connection the first time it runs there.
type readStmts struct {
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

func (s *Store) readStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s.isClosed.Load() {
		return nil, store.ErrClosed
	}
	rs := &s.reads
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if st, ok := rs.stmts[query]; ok {
		return st, nil
	}
	st, err := s.rdb.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if rs.stmts == nil {
		rs.stmts = map[string]*sql.Stmt{}
	}
	rs.stmts[query] = st
	return st, nil
}

func (rs *readStmts) close() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, st := range rs.stmts {
		st.Close()
	}
	rs.stmts = nil
}

func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.readStmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (s *Store) queryRow(ctx context.Context, query string, args ...any) rowScanner {
	st, err := s.readStmt(ctx, query)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

// collect scans every row with scan and closes rows.
func collect[T any](rows *sql.Rows, scan func(*sql.Rows) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// notFound turns sql.ErrNoRows into store.ErrNotFound about what.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return err
}

// mustAffect turns an UPDATE or DELETE that matched no row into
// store.ErrNotFound about what.
func mustAffect(res sql.Result, err error, what string) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// eachRow runs a read query below database/sql, on a read connection's
// driver connection: fn gets each row's values in one reused slice (valid
// during the call; a BLOB or TEXT value is the driver's fresh copy). It
// skips database/sql's per-value conversions and locks, which cost more
// than SQLite itself when listing 100,000 rows (BenchmarkMessages100k).
func (s *Store) eachRow(ctx context.Context, query string, args []driver.NamedValue, fn func(row []driver.Value) error) error {
	if s.isClosed.Load() {
		return store.ErrClosed
	}
	conn, err := s.rdb.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return rawEach(ctx, conn, query, args, fn)
}

// rawEach is eachRow on a given connection (the writer's too). The
// statement is prepared for the call.
func rawEach(ctx context.Context, conn *sql.Conn, query string, args []driver.NamedValue, fn func(row []driver.Value) error) error {
	return conn.Raw(func(dc any) error {
		prep, ok := dc.(driver.ConnPrepareContext)
		if !ok {
			return errors.New("sqlite: driver connection cannot prepare with a context")
		}
		st, err := prep.PrepareContext(ctx, query)
		if err != nil {
			return err
		}
		defer st.Close()
		rows, err := st.(driver.StmtQueryContext).QueryContext(ctx, args)
		if err != nil {
			return err
		}
		defer rows.Close()
		row := make([]driver.Value, len(rows.Columns()))
		for {
			if err := rows.Next(row); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
			if err := fn(row); err != nil {
				return err
			}
			if err := ctx.Err(); err != nil { // the driver notices only sometimes
				return err
			}
		}
	})
}

// namedArgs turns positional arguments into the driver's form.
func namedArgs(args ...any) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, a := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	return out
}
