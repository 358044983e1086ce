package cli

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/posthorn/posthorn/internal/config"
	"github.com/posthorn/posthorn/internal/daemon"
	"github.com/posthorn/posthorn/internal/store/postgres"
	"github.com/posthorn/posthorn/internal/store/sqlite"
	"github.com/posthorn/posthorn/internal/store/storecopy"
)

// migrateCommand is `posthorn migrate`: the embedded store to PostgreSQL.
func migrateCommand() *command {
	var (
		sf         storeFlags
		to         string
		verifyOnly bool
	)
	return &command{
		name:    "migrate",
		summary: "copy the embedded store to PostgreSQL, verifiably",
		usage:   "[-config FILE | -data-dir DIR] [-to DSN] [-verify-only]",
		help: `Copies everything in the embedded store (DATA/mail.db) into an empty
PostgreSQL database: domains, accounts with their passwords, app
passwords, aliases, mailboxes, messages with their IDs, UIDs, UIDVALIDITY,
MODSEQs and flags, the change log, the outbound queue, events,
suppressions, webhooks and API keys. IMAP clients keep their caches: a
mailbox looks the same before and after. Then it compares the two stores
as clients would read them, and exits non-zero naming the first
differences when they are not equal.

The target is -to, or the configuration's [store] connection string when
its backend is "postgres" (the usual order: stop the server, set
[store] in the configuration, run posthorn migrate, start the server).
Its tables are created if needed; a database that already holds mail
is refused. The copy is one transaction: if it fails, the database is
left empty.

Stop the server first. While the copy runs it holds the embedded store's
write lock, so a server still running could not accept mail then (its
writes wait, then fail with a temporary error), and mail it accepts
afterwards is not in the copy: the verification then reports it.

-verify-only compares the two stores again without copying.`,
		flags: func(fs *flag.FlagSet) {
			sf.register(fs)
			fs.StringVar(&to, "to", "", "PostgreSQL connection `DSN` of the target (default: the configuration's [store])")
			fs.BoolVar(&verifyOnly, "verify-only", false, "only compare the two stores")
		},
		run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
			if fs.NArg() != 0 {
				return usagef("unexpected arguments: %v", fs.Args())
			}
			sc, dir, err := sf.location(env)
			if err != nil {
				return err
			}
			dsn := to
			if dsn == "" {
				if sc.Backend != config.StorePostgres {
					return usagef(`name the target with -to DSN (or set [store] backend = "postgres" in the configuration)`)
				}
				if dsn, err = sc.PostgresDSN(env.Getenv); err != nil {
					return err
				}
			}
			return migrate(ctx, env, filepath.Join(dir, daemon.StoreFile), dsn, verifyOnly)
		},
	}
}

func migrate(ctx context.Context, env *Env, path, dsn string, verifyOnly bool) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("embedded store: %w", err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	src, err := sqlite.Open(ctx, path, sqlite.Options{Logger: quiet})
	if busy(err) {
		return errors.Join(errStillRunning, err)
	}
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := postgres.Open(ctx, dsn, postgres.Options{Logger: quiet})
	if err != nil {
		return err
	}
	defer dst.Close()

	if !verifyOnly {
		start := time.Now()
		unlock, err := lockSQLite(ctx, path)
		if err != nil {
			return err
		}
		counts, err := dst.Import(ctx, func(ctx context.Context, sink storecopy.Sink) error {
			return src.Export(ctx, &progress{Sink: sink, w: env.Stderr, every: 5 * time.Second, last: start})
		})
		unlock()
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "copied in %s: %v\n", time.Since(start).Round(time.Millisecond), counts)
	}
	start := time.Now()
	r, err := storecopy.Verify(ctx, src, dst, src.Export)
	if err != nil {
		return err
	}
	if !r.OK() {
		for _, d := range r.Differences {
			fmt.Fprintf(env.Stdout, "DIFFERENT: %s\n", d)
		}
		return fmt.Errorf("verification failed: %d differences (the first %d above)", r.Mismatches, len(r.Differences))
	}
	fmt.Fprintf(env.Stdout, "verified in %s, no differences: %v\n", time.Since(start).Round(time.Millisecond), r)
	return nil
}

// lockSQLite takes the embedded store's write lock (BEGIN IMMEDIATE on a
// connection of its own) until unlock: nothing changes the source while
// it is copied. A server still running waits, then fails its writes.
func lockSQLite(ctx context.Context, path string) (unlock func(), err error) {
	db, err := sql.Open("sqlite", path+"?_busy_timeout=10000")
	if err != nil {
		return nil, err
	}
	conn, err := db.Conn(ctx)
	if err == nil {
		_, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE")
	}
	if err != nil {
		db.Close()
		if busy(err) {
			err = errors.Join(errStillRunning, err)
		}
		return nil, err
	}
	return func() {
		conn.ExecContext(context.Background(), "ROLLBACK")
		conn.Close()
		db.Close()
	}, nil
}

// progress passes records on and reports, at most once per every, how
// many messages and body bytes went through: a large copy takes minutes.
type progress struct {
	storecopy.Sink
	w        io.Writer
	every    time.Duration
	last     time.Time
	messages int
	bytes    int64
}

func (p *progress) Body(ctx context.Context, b storecopy.Body) error {
	p.bytes += int64(len(b.Data))
	p.report("bodies")
	return p.Sink.Body(ctx, b)
}

func (p *progress) Message(ctx context.Context, m storecopy.Message) error {
	p.messages++
	p.report("messages")
	return p.Sink.Message(ctx, m)
}

func (p *progress) report(stage string) {
	if now := time.Now(); now.Sub(p.last) >= p.every {
		p.last = now
		fmt.Fprintf(p.w, "copying %s: %d messages, %d MB of bodies so far\n", stage, p.messages, p.bytes>>20)
	}
}

var errStillRunning = errors.New("the embedded store is busy: is the server still running? Stop it first")

// busy reports SQLITE_BUSY: another connection held the write lock for
// the whole busy timeout.
func busy(err error) bool {
	var c interface{ Code() int }
	return errors.As(err, &c) && c.Code()&0xff == 5
}
