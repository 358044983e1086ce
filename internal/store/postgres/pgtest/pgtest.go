// Package pgtest gives each PostgreSQL test a fresh, empty database.
//
// DSN(t) creates a database with a unique name and drops it (WITH
// (FORCE)) when the test ends. The server comes from the environment
// variable POSTHORN_TEST_PG (an admin DSN, e.g.
// postgres://postgres@127.0.0.1:5432/postgres) when it is set; otherwise
// pgtest runs one private cluster per machine under os.TempDir()
// (posthorn-pgtest), started by whichever test binary needs it first
// (an flock on a file in that directory orders concurrent binaries),
// listening on 127.0.0.1 at a fixed high port and on a unix socket in
// that directory, and left running afterwards so later runs reuse it.
// When running as root the cluster is run as the "postgres" OS user that
// Debian's package creates.
//
// The shared cluster runs with fsync=off: posthorn's own durability is
// tested elsewhere, and these tests check behaviour, not crash safety.
// Benchmarks need a durable cluster: DurableDSN starts a second one
// (posthorn-pgtest-durable) with fsync=on and synchronous_commit=on.
//
// Without PostgreSQL binaries (initdb and postgres on PATH or under
// /usr/lib/postgresql/*/bin) the test is skipped, or failed under
// CI=true (see internal/testutil/tools and test.sh's TOOLS).
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// EnvAdminDSN names the environment variable with an admin DSN of an
// existing server to use instead of the private cluster.
const EnvAdminDSN = "POSTHORN_TEST_PG"

// cluster is one private test cluster.
type cluster struct {
	name    string // directory under os.TempDir()
	port    int
	durable bool

	once  sync.Once
	admin string // admin DSN, once started
	err   error
	skip  string // no binaries: why
}

var (
	fast    = &cluster{name: "posthorn-pgtest", port: 55432}
	durable = &cluster{name: "posthorn-pgtest-durable", port: 55433, durable: true}
)

// DSN returns a DSN of a new, empty database for t, dropped at the end of
// the test.
func DSN(t testing.TB) string {
	t.Helper()
	return newDatabase(t, adminDSN(t, fast))
}

// DurableDSN is DSN on a cluster that fsyncs its commits (fsync=on,
// synchronous_commit=on), for benchmarks. With POSTHORN_TEST_PG set it
// uses that server, whose settings are the operator's.
func DurableDSN(t testing.TB) string {
	t.Helper()
	return newDatabase(t, adminDSN(t, durable))
}

// DSNFrom is DSN for a database copied from a template database that
// setup prepared once per server (for a package whose tests all start
// from the same migrated schema: copying is cheaper than migrating each
// time). setup gets the template's DSN and must close every connection
// it opened before returning. name identifies what setup makes: change
// it when that changes (include a schema version or hash). A setup that
// failed or was interrupted leaves no template behind. Templates of
// earlier names stay (a few MB each) until the cluster's directory is
// removed.
func DSNFrom(t testing.TB, name string, setup func(dsn string) error) string {
	t.Helper()
	admin := adminDSN(t, fast)
	tmpl, err := template(admin, name, setup)
	if err != nil {
		t.Fatalf("pgtest: template %s: %v", name, err)
	}
	return newDatabaseFrom(t, admin, tmpl)
}

// template returns the name of the template database for name, making
// it with setup if it does not exist yet. An advisory lock orders test
// processes preparing the same template at once; the template is marked
// (IS_TEMPLATE) only when setup succeeded.
func template(admin, name string, setup func(dsn string) error) (string, error) {
	sum := sha256.Sum256([]byte(name))
	db := templateName(name)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(binary.BigEndian.Uint64(sum[:8]))); err != nil {
		return "", err
	}
	var ready *bool
	err = conn.QueryRow(ctx, `SELECT datistemplate FROM pg_database WHERE datname = $1`, db).Scan(&ready)
	if err == nil && ready != nil && *ready {
		return db, nil
	}
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		return "", err
	}
	dsn, err := withDatabase(admin, db)
	if err != nil {
		return "", err
	}
	if err := setup(dsn); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+db+" IS_TEMPLATE true"); err != nil {
		return "", err
	}
	return db, nil
}

// templateName is the database name of the template for name.
func templateName(name string) string {
	sum := sha256.Sum256([]byte(name))
	return "posthorn_tmpl_" + hex.EncodeToString(sum[:8])
}

// AdminDSN returns the DSN of the maintenance database of the server DSN
// uses (for tests that create or inspect databases themselves).
func AdminDSN(t testing.TB) string {
	t.Helper()
	return adminDSN(t, fast)
}

func adminDSN(t testing.TB, c *cluster) string {
	t.Helper()
	if dsn := os.Getenv(EnvAdminDSN); dsn != "" {
		return dsn
	}
	c.once.Do(c.start)
	if c.skip != "" {
		tools.Missing(t, "PostgreSQL (%s; Debian package postgresql)", c.skip)
	}
	if c.err != nil {
		t.Fatalf("pgtest: %v", c.err)
	}
	return c.admin
}

// newDatabase creates a uniquely named empty database and registers its
// drop.
func newDatabase(t testing.TB, admin string) string {
	t.Helper()
	return newDatabaseFrom(t, admin, "")
}

// newDatabaseFrom is newDatabase copying template (none: "").
func newDatabaseFrom(t testing.TB, admin, template string) string {
	t.Helper()
	var rnd [6]byte
	rand.Read(rnd[:])
	name := "posthorn_test_" + hex.EncodeToString(rnd[:])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", redact(admin), err)
	}
	defer conn.Close(context.Background())
	create := "CREATE DATABASE " + name
	if template != "" {
		create += " TEMPLATE " + template
	}
	for attempt := 1; ; attempt++ {
		_, err := conn.Exec(ctx, create)
		// 55006: the template's setup connections are still
		// going away.
		var pe *pgconn.PgError
		if err != nil && errors.As(err, &pe) && pe.Code == "55006" && attempt < 50 {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatalf("pgtest: create database: %v", err)
		}
		break
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
		}
	})
	dsn, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return dsn
}

// withDatabase returns dsn (URL or key=value form) naming database db.
func withDatabase(dsn, db string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("bad DSN: %w", err)
		}
		u.Path = "/" + db
		return u.String(), nil
	}
	// In the key=value form a later key overrides an earlier one.
	return dsn + " dbname=" + db, nil
}

// redact hides a password in a DSN for messages.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxx")
			return u.String()
		}
	}
	return dsn
}

// start makes sure the cluster runs, starting it if needed.
func (c *cluster) start() {
	bin, err := binDir()
	if err != nil {
		c.skip = err.Error()
		return
	}
	dir := filepath.Join(os.TempDir(), c.name)
	c.admin = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=10", c.port)
	c.err = c.ensure(bin, dir)
}

func (c *cluster) ensure(bin, dir string) error {
	asRoot := os.Geteuid() == 0
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var uid, gid int = -1, -1
	if asRoot {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("running as root needs the postgres OS user (Debian's postgresql package makes it): %w", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return err
		}
	}
	// One test binary at a time checks and starts the cluster.
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	if ping(c.admin, 2*time.Second) == nil {
		return nil
	}
	data := filepath.Join(dir, "data")
	run := func(name string, args ...string) error {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		// Its own session: the server outlives this test process and
		// its process group.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if asRoot {
			cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		}
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v\n%s", name, err, out)
		}
		return nil
	}
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err != nil {
		os.RemoveAll(data)
		if err := run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
			return err
		}
	}
	opts := []string{
		"-c port=" + strconv.Itoa(c.port),
		"-c listen_addresses=127.0.0.1",
		"-c unix_socket_directories=" + dir,
		"-c max_connections=300",
		"-c shared_buffers=128MB",
	}
	if !c.durable {
		// Not crash safe, and need not be: see the package doc.
		opts = append(opts, "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off")
	} else {
		opts = append(opts, "-c fsync=on", "-c synchronous_commit=on")
	}
	if err := run("pg_ctl", "-D", data, "-l", filepath.Join(dir, "postgres.log"), "-w", "-t", "120",
		"-o", strings.Join(opts, " "), "start"); err != nil {
		return fmt.Errorf("%w (log: %s)", err, filepath.Join(dir, "postgres.log"))
	}
	return ping(c.admin, 60*time.Second)
}

// ping connects until it succeeds or d passes.
func ping(dsn string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn, err := pgx.Connect(ctx, dsn)
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close(ctx)
		}
		cancel()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// binDir finds the directory with initdb, pg_ctl and postgres: PATH
// first, then Debian's /usr/lib/postgresql/<version>/bin, newest version
// first.
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
			return dir, nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(matches, func(i, j int) bool { return version(matches[i]) > version(matches[j]) })
	for _, m := range matches {
		dir := filepath.Dir(m)
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
			return dir, nil
		}
	}
	return "", fmt.Errorf("no initdb and pg_ctl on PATH or under /usr/lib/postgresql/*/bin")
}

// version is the major version in a /usr/lib/postgresql/<v>/bin path.
func version(path string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return v
}
