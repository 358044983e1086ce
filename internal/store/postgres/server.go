package postgres

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/jackc/pgx/v5/pgxpool"
)

// minServerVersion is the oldest PostgreSQL the schema works on
// (server_version_num): migration 3 sets lz4 compression on the body
// column, which PostgreSQL 14 introduced.
const minServerVersion = 140000

// checkServer connects once and checks the server's version, so that an
// unreachable or too old server is reported as such rather than as the
// first schema statement failing.
func checkServer(ctx context.Context, pool *pgxpool.Pool, cfg *pgxpool.Config) error {
	where := net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port)))
	var (
		version int
		name    string
	)
	err := pool.QueryRow(ctx, `SELECT current_setting('server_version_num')::int, current_setting('server_version')`).Scan(&version, &name)
	if err != nil {
		return fmt.Errorf("connecting to PostgreSQL at %s (database %q, user %q): %w",
			where, cfg.ConnConfig.Database, cfg.ConnConfig.User, err)
	}
	if version < minServerVersion {
		return fmt.Errorf("PostgreSQL at %s is version %s: posthorn needs PostgreSQL 14 or newer", where, name)
	}
	return nil
}
