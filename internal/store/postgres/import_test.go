package postgres

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/posthorn/posthorn/internal/store/postgres/pgtest"
	"github.com/posthorn/posthorn/internal/store/storecopy"
)

// notCopied are the tables posthorn migrate leaves alone: bookkeeping,
// locks, and anti-abuse state that the embedded store does not keep in
// mail.db (greylisting is in DATA/greylist, login failures in memory;
// after a migration a sender is at worst greylisted once more; watch
// registrations are per running node).
var notCopied = []string{"meta", "schema_version", "maildrop_locks", "greylist_networks", "greylist_triplets", "login_failures", "mail_watches", "login_failures_size"}

// TestImportColumns: every column of the schema is copied by Import or
// derived from the copied rows. A migration that adds a table or column
// fails here until posthorn migrate carries it (storecopy's records,
// sqlite's Export, importColumns).
func TestImportColumns(t *testing.T) {
	ctx := context.Background()
	s := openDSN(t, pgtest.DSN(t))
	rows, err := s.pool.Query(ctx, `SELECT c.table_name, c.column_name FROM information_schema.columns c
		JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
			AND NOT c.table_name = ANY($1)`, notCopied)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	for rows.Next() {
		var table, column string
		if err := rows.Scan(&table, &column); err != nil {
			t.Fatal(err)
		}
		seen[table] = true
		if !slices.Contains(importColumns(table), column) && !slices.Contains(derivedColumns[table], column) {
			t.Errorf("column %s.%s is not copied by posthorn migrate", table, column)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	tables := slices.Sorted(maps.Keys(storecopy.Columns))
	if !slices.Equal(tables, slices.Sorted(maps.Keys(seen))) {
		t.Errorf("schema tables %v, storecopy.Columns %v", slices.Sorted(maps.Keys(seen)), tables)
	}
	if !slices.Equal(slices.Sorted(slices.Values(importTables)), tables) {
		t.Errorf("importTables %v and storecopy.Columns disagree", importTables)
	}
}
