package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Helpers for reads outside a write transaction.

// queryAll runs a query on the pool and scans every row with scan.
func queryAll[T any](s *Store, ctx context.Context, query string, args []any, scan func(pgx.Rows) (T, error)) ([]T, error) {
	pool, err := s.db()
	if err != nil {
		return nil, err
	}
	rows, err := pool.Query(ctx, query, args...)
	if err != nil {
		return nil, s.mapErr(err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, s.mapErr(err)
		}
		out = append(out, v)
	}
	return out, s.mapErr(rows.Err())
}

// queryRow runs a one-row query on the pool and scans it into dest;
// pgx.ErrNoRows is returned as is (see notFound).
func (s *Store) queryRow(ctx context.Context, query string, args []any, dest ...any) error {
	pool, err := s.db()
	if err != nil {
		return err
	}
	return s.mapErr(pool.QueryRow(ctx, query, args...).Scan(dest...))
}

// touchReturned records every mailbox id rows return as touched, and
// closes rows.
func touchReturned(rows pgx.Rows, accountID int64, t *touched) error {
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return err
		}
		t.add(accountID, id)
	}
	return rows.Err()
}
