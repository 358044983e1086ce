package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/posthorn/posthorn/internal/store"
)

// Options configure a Store. The zero value is usable.
type Options struct {
	// Logger receives migration notes and listener errors. Nil discards.
	Logger *slog.Logger
	// MaxConns is the size of the connection pool (besides the one
	// LISTEN connection). 0 means pgxpool's default, max(4, GOMAXPROCS),
	// unless the DSN sets pool_max_conns.
	MaxConns int32

	// watchLinger, when set (by tests), replaces defaultWatchLinger.
	watchLinger time.Duration
}

// Store is the PostgreSQL storage backend. It is safe for concurrent use,
// and several Stores (processes, nodes) may share one database.
type Store struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	dsn  string

	notify  store.Notifier // Watch and WatchAccount, fed locally and by LISTEN
	watches watches        // registrations of watched mailboxes (watch.go)
	caches  caches         // API keys, webhook subscriptions, outbox wake-ups (caches.go)
	ownMu   sync.Mutex
	own     map[uint32]bool // backend PIDs of the pool's connections
	// beforeReconnect, when set (by tests, before the listener is
	// cut), runs before each reconnection of the listener.
	beforeReconnect atomic.Pointer[func()]
	stopListen      context.CancelFunc
	listenDone      chan struct{}
	sweepDone       chan struct{}

	// Group commit of Deliver (deliver.go).
	deliveries       chan *deliverReq
	deliverQuit      chan struct{}
	deliverDone      sync.WaitGroup
	deliverMu        sync.RWMutex // guards deliverClosed against sends on deliveries
	deliverClosed    bool
	batches, batched atomic.Int64 // group-commit statistics

	loginSweep atomic.Int64 // µs of the last sweep of login_failures (logins.go)

	closeOnce sync.Once
	closed    atomic.Bool
}

var _ store.Store = (*Store)(nil)

// Open connects to the database named by dsn (a libpq URL or key=value
// string, see pgx.ParseConfig), applies pending schema migrations and
// starts the LISTEN connection that feeds Watch.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	// Pinned: the change notification (watch.go) relies on each
	// statement of a write seeing what committed before it started.
	cfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = "read committed"
	s := &Store{log: log, dsn: dsn, own: map[uint32]bool{}}
	s.watches.m = map[watchKey]*watchEntry{}
	s.watches.linger = cmp.Or(opts.watchLinger, defaultWatchLinger)
	// The server processes of this Store's connections: their
	// notifications come back through LISTEN, but their writes woke the
	// local watchers already.
	cfg.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		s.ownMu.Lock()
		s.own[c.PgConn().PID()] = true
		s.ownMu.Unlock()
		return nil
	}
	cfg.BeforeClose = func(c *pgx.Conn) {
		s.ownMu.Lock()
		delete(s.own, c.PgConn().PID())
		s.ownMu.Unlock()
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s.pool = pool
	if err := checkServer(ctx, pool, cfg); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := migrate(ctx, pool, log); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := s.startListener(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s.startDeliverers()
	return s, nil
}

// Close implements store.Store: it stops the listener and closes the
// pool. Later calls fail with store.ErrClosed.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.stopDeliverers()
		s.stopListener()
		s.pool.Close()
	})
	return nil
}

// db returns the pool, or ErrClosed after Close.
func (s *Store) db() (*pgxpool.Pool, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	return s.pool, nil
}

// write runs fn in a transaction and commits it. touched receives the
// (account, mailbox) pairs fn changed: they are announced with
// pg_notify inside the transaction, for other nodes, and, after COMMIT,
// to this Store's own watchers before write returns.
func (s *Store) write(ctx context.Context, fn func(tx pgx.Tx, t *touched) error) error {
	pool, err := s.db()
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		err := s.writeOnce(ctx, pool, fn)
		// Writers lock rows in one order (accounts, then mailboxes by
		// id), but bodies shared by copies can still meet in two
		// orders: PostgreSQL then aborts one transaction, which is
		// simply run again.
		if attempt < maxAttempts && isRetryable(err) && ctx.Err() == nil {
			continue
		}
		return s.mapErr(err)
	}
}

// maxAttempts bounds the runs of one write aborted by a deadlock or a
// serialization failure.
const maxAttempts = 5

func (s *Store) writeOnce(ctx context.Context, pool *pgxpool.Pool, fn func(tx pgx.Tx, t *touched) error) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	var t touched
	if err := fn(tx, &t); err != nil {
		return err
	}
	if err := t.publish(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	t.wake(&s.notify)
	return nil
}

// isRetryable reports a deadlock (40P01) or serialization failure (40001).
func isRetryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// mapErr turns PostgreSQL's errors into the store's: unique violations
// are ErrExists, anything after Close is ErrClosed.
func (s *Store) mapErr(err error) error {
	if err == nil {
		return nil
	}
	if s.closed.Load() && !errors.Is(err, store.ErrClosed) {
		return fmt.Errorf("%w (%v)", store.ErrClosed, err)
	}
	if isUniqueViolation(err) && !errors.Is(err, store.ErrExists) {
		return fmt.Errorf("%w: %v", store.ErrExists, err)
	}
	return err
}

// isUniqueViolation reports SQLSTATE 23505.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// notFound turns pgx.ErrNoRows into store.ErrNotFound about what.
func notFound(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return err
}

// unsupported is the error of a method not written yet.
func unsupported(name string) error {
	return fmt.Errorf("postgres: %s: %w", name, errors.ErrUnsupported)
}
