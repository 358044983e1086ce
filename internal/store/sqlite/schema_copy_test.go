package sqlite

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/posthorn/posthorn/internal/store/storecopy"
)

// derivedColumns are kept by triggers and recomputed by an importer;
// meta's uidvalidity row is storecopy.Meta.
var derivedColumns = map[string][]string{
	"mailboxes": {"size", "messages", "unseen", "deleted"},
	"meta":      {"key", "value"},
}

// TestExportColumns: every column of the schema is exported (or derived).
// A migration that adds a table or column fails here until posthorn
// migrate carries it (storecopy's records, Export, postgres' Import).
func TestExportColumns(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "posthorn.db"))
	rows, err := s.rdb.Query(`SELECT m.name, c.name FROM sqlite_schema m JOIN pragma_table_info(m.name) c
		WHERE m.type = 'table' AND m.name NOT IN ('schema_version', 'sqlite_sequence')`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	tables := map[string]bool{}
	for rows.Next() {
		var table, column string
		if err := rows.Scan(&table, &column); err != nil {
			t.Fatal(err)
		}
		tables[table] = true
		if !slices.Contains(storecopy.Columns[table], column) && !slices.Contains(derivedColumns[table], column) {
			t.Errorf("column %s.%s is not exported for posthorn migrate", table, column)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(tables) != len(storecopy.Columns)+1 { // + meta
		t.Errorf("schema has tables %v, storecopy.Columns lists %d", tables, len(storecopy.Columns))
	}
}
