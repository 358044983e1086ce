package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/posthorn/posthorn/internal/store"
)

// Group commit.
//
// Every write goes through one goroutine that owns the only write
// connection. Callers queue a request (a function run inside the
// transaction) and wait. The writer takes the first request, drains up to
// MaxBatch-1 more that are already queued, runs them in one transaction
// with a SAVEPOINT each, so a failing request rolls back only its own work
// and gets its own error, commits once (one fsync under synchronous=FULL)
// and then answers every caller. While it commits, new requests queue up
// and form the next batch, so the batch size follows the load.

// request is one queued write.
type request struct {
	ctx  context.Context
	fn   func(w *wtx) error
	err  error
	done chan struct{}
	// touched lists what fn changed, for the watchers woken after COMMIT.
	touched []touched
	// outbox: fn wrote webhook deliveries (OnWebhookDeliveries).
	outbox bool
}

// touched is a mailbox (or, with mailbox 0, an account's mailbox list)
// changed by a request.
type touched struct{ account, mailbox int64 }

// write runs fn in the writer goroutine and returns once the transaction
// holding fn's changes is durable (or fn failed). fn must not retain w.
// The caller's context is checked before fn runs; fn's statements run
// under the writer's own context, because interrupting a statement would
// roll back the whole shared transaction.
func (s *Store) write(ctx context.Context, fn func(w *wtx) error) error {
	r := &request{ctx: ctx, fn: fn, done: make(chan struct{})}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return store.ErrClosed
	}
	select {
	case s.reqs <- r:
	case <-ctx.Done():
		s.mu.RUnlock()
		return ctx.Err()
	}
	s.mu.RUnlock()
	<-r.done
	return r.err
}

// writer is the writer goroutine.
func (s *Store) writer() {
	defer close(s.done)
	batch := make([]*request, 0, s.maxBatch)
	for {
		select {
		case r := <-s.reqs:
			batch = append(batch[:0], r)
			batch = s.drain(batch)
			s.commit(batch)
		case <-s.quit:
			// Close holds no sender any more: whatever is queued is all
			// there will ever be.
			for {
				batch = s.drain(batch[:0])
				if len(batch) == 0 {
					return
				}
				s.commit(batch)
			}
		}
	}
}

// drain appends already queued requests to batch, up to maxBatch.
func (s *Store) drain(batch []*request) []*request {
	for len(batch) < s.maxBatch {
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// commit runs one batch in one transaction and answers its callers.
func (s *Store) commit(batch []*request) {
	defer func() {
		for _, r := range batch {
			close(r.done)
		}
	}()
	w := s.w
	if err := w.execRaw("BEGIN IMMEDIATE"); err != nil {
		err = fmt.Errorf("sqlite: begin: %w", err)
		s.log.Error("begin failed", "err", err)
		for _, r := range batch {
			r.err = err
		}
		return
	}
	single := len(batch) == 1
	ok := 0
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		w.cur = r
		if single {
			r.err = r.fn(w)
		} else {
			r.err = s.runSavepoint(w, r)
		}
		w.cur = nil
		if r.err == nil {
			ok++
		} else {
			r.touched = nil // rolled back
		}
		if errors.Is(r.err, errTxAborted) {
			// The transaction is gone, with the work of the requests
			// before this one: fail them all.
			for _, other := range batch {
				if other.err == nil {
					other.err = r.err
				}
			}
			ok = 0
			break
		}
	}
	if ok == 0 {
		// Every request failed and carries its own error; nothing to keep,
		// and ROLLBACK costs no fsync.
		if err := w.execRaw("ROLLBACK"); err != nil {
			s.log.Debug("rollback", "err", err)
		}
		return
	}
	s.commits.Add(1)
	s.requests.Add(int64(len(batch)))
	if err := w.execRaw("COMMIT"); err != nil {
		err = fmt.Errorf("sqlite: commit: %w", err)
		s.log.Error("commit failed", "err", err, "batch", len(batch))
		_ = w.execRaw("ROLLBACK")
		for _, r := range batch {
			if r.err == nil {
				r.err = err
			}
		}
		return
	}
	// Durable and visible to new read transactions: wake the watchers
	// before answering the callers.
	outbox := false
	for _, r := range batch {
		if r.err == nil {
			for _, t := range r.touched {
				s.notify.Notify(t.account, t.mailbox)
			}
			outbox = outbox || r.outbox
		}
	}
	if fn := s.onOutbox.Load(); outbox && fn != nil {
		(*fn)()
	}
}

// errTxAborted marks a failure after which the enclosing transaction no
// longer exists.
var errTxAborted = errors.New("sqlite: transaction aborted")

// runSavepoint runs one request of a multi-request batch inside its own
// savepoint.
func (s *Store) runSavepoint(w *wtx, r *request) error {
	if err := w.execRaw("SAVEPOINT req"); err != nil {
		return fmt.Errorf("%w: savepoint: %v", errTxAborted, err)
	}
	if err := r.fn(w); err != nil {
		if rerr := w.execRaw("ROLLBACK TO req"); rerr != nil {
			return fmt.Errorf("%w: %w (rollback: %v)", errTxAborted, err, rerr)
		}
		if rerr := w.execRaw("RELEASE req"); rerr != nil {
			return fmt.Errorf("%w: %w (release: %v)", errTxAborted, err, rerr)
		}
		return err
	}
	if err := w.execRaw("RELEASE req"); err != nil {
		return fmt.Errorf("%w: release: %v", errTxAborted, err)
	}
	return nil
}

// wtx is the write connection with its prepared statements. Only the
// writer goroutine (and Open, before it starts) uses it.
type wtx struct {
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
	cur   *request // the request running now
}

// touch records that the running request changed a mailbox of an account
// (mailboxID 0: the account's list of mailboxes), for Watch.
func (w *wtx) touch(accountID, mailboxID int64) {
	if w.cur != nil {
		w.cur.touched = append(w.cur.touched, touched{accountID, mailboxID})
	}
}

func (w *wtx) stmt(query string) (*sql.Stmt, error) {
	if st, ok := w.stmts[query]; ok {
		return st, nil
	}
	st, err := w.conn.PrepareContext(context.Background(), query)
	if err != nil {
		return nil, err
	}
	w.stmts[query] = st
	return st, nil
}

// execRaw runs transaction-control statements (also prepared once).
func (w *wtx) execRaw(query string) error {
	_, err := w.exec(query)
	return err
}

func (w *wtx) exec(query string, args ...any) (sql.Result, error) {
	st, err := w.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(context.Background(), args...)
}

func (w *wtx) query(query string, args ...any) (*sql.Rows, error) {
	st, err := w.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(context.Background(), args...)
}

// queryRow runs a one-row query; a prepare error surfaces from Scan.
func (w *wtx) queryRow(query string, args ...any) rowScanner {
	st, err := w.stmt(query)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(context.Background(), args...)
}

// insert runs an INSERT and returns the new rowid.
func (w *wtx) insert(query string, args ...any) (int64, error) {
	res, err := w.exec(query, args...)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

func (w *wtx) close() {
	for _, st := range w.stmts {
		st.Close()
	}
	w.stmts = nil
	w.conn.Close()
}

type rowScanner interface{ Scan(dest ...any) error }

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
