package postgres

import (
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/posthorn/posthorn/internal/store"
)

// Conversions and checks shared by the files of this package. Times are
// stored as µs since 1970 (as in the SQLite backend).

// fromMicro is the time of a stored µs value, in UTC.
func fromMicro(us int64) time.Time { return time.UnixMicro(us).UTC() }

// microOrZero stores a zero time as 0, others as µs.
func microOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// fromMicroOrZero reads what microOrZero stored.
func fromMicroOrZero(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return fromMicro(us)
}

// nonNil is b, or an empty slice for nil (bytea NOT NULL columns).
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// nilIfEmpty stores an empty JSON value as NULL.
func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// mustAffect turns an UPDATE or DELETE that matched no row into
// store.ErrNotFound about what.
func mustAffect(tag pgconn.CommandTag, err error, what string) error {
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}
