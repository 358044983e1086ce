package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/posthorn/posthorn/internal/store"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Helpers for the read pool and for mapping SQLite errors to the store's.

func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s.isClosed.Load() {
		return nil, store.ErrClosed
	}
	return s.rdb.QueryContext(ctx, query, args...)
}

func (s *Store) queryRow(ctx context.Context, query string, args ...any) rowScanner {
	if s.isClosed.Load() {
		return errRow{store.ErrClosed}
	}
	return s.rdb.QueryRowContext(ctx, query, args...)
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
