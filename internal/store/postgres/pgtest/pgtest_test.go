package pgtest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func run(t *testing.T, dsn, sql string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatal(err)
	}
}

func count(t *testing.T, dsn, sql string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDSN: each test gets its own database, dropped when the test ends;
// DSNFrom copies a template that its setup made once.
func TestDSN(t *testing.T) {
	var first string
	t.Run("a", func(t *testing.T) {
		first = DSN(t)
		run(t, first, `CREATE TABLE x (v int)`)
	})
	second := DSN(t)
	if second == first {
		t.Fatal("two tests got the same database")
	}
	name := first[strings.LastIndexByte(first, '/')+1:]
	name, _, _ = strings.Cut(name, "?")
	if n := count(t, AdminDSN(t), `SELECT count(*) FROM pg_database WHERE datname = '`+name+`'`); n != 0 {
		t.Errorf("database %s still exists after its test", name)
	}

	setups := 0
	tmplName := "pgtest self-test " + time.Now().String()
	setup := func(dsn string) error {
		setups++
		run(t, dsn, `CREATE TABLE y (v int); INSERT INTO y VALUES (1)`)
		return nil
	}
	a, b := DSNFrom(t, tmplName, setup), DSNFrom(t, tmplName, setup)
	if setups != 1 {
		t.Errorf("template setup ran %d times, want 1", setups)
	}
	run(t, a, `INSERT INTO y VALUES (2)`)
	if n := count(t, b, `SELECT count(*) FROM y`); n != 1 {
		t.Errorf("second copy of the template has %d rows, want 1 (copies are separate)", n)
	}
	t.Cleanup(func() {
		sum := templateName(tmplName)
		run(t, AdminDSN(t), `ALTER DATABASE `+sum+` IS_TEMPLATE false`)
		run(t, AdminDSN(t), `DROP DATABASE `+sum)
	})
}
