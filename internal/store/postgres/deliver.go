package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/posthorn/posthorn/internal/store"
)

// Group commit for Deliver. Deliveries to one mailbox must commit one
// after the other: the mailbox row stays locked from the UID allocation
// to the COMMIT, so that UIDs become visible in order. With one
// transaction per delivery the rate into one mailbox is one per commit
// round (WAL flush plus round trips). So concurrent Deliver calls are
// queued to a writer goroutine, which sends up to maxBatch of them as
// one pgx batch: one SELECT posthorn_deliver(...) each (schema_deliver.go),
// in one implicit transaction committed at the batch's Sync, in one
// round trip. A delivery refused for quota or an unknown account fails
// alone. A batch with events (the MX's "inbound", a tracked send's
// "delivered") runs as an explicit transaction instead: the deliveries'
// batch, then the events of those that were not refused in one statement
// (addEvents), then COMMIT; two round trips more per batch, against a
// transaction per delivery before. Deliveries with an idempotency
// record run sqlDeliver in a transaction of their own (Deliver in
// message.go), since a record that exists already must fail that
// delivery alone.

// maxBatch is the most deliveries committed together.
const maxBatch = 64

// deliverWriters is the number of writer goroutines. One: while it
// waits for its commit the next deliveries queue up, and it takes them
// all as the next batch. A second writer split the same work into
// batches of half the size (BenchmarkDeliver, 50 callers: 14 instead of
// 25 deliveries per commit) and, where the node and the database share
// the CPU, that cost more than the overlap gained: SMTP ingest at 50
// sessions ran 1553 against 2030 msgs/s with 0.79 against 0.54 ms of
// CPU per message (bench/ingest.sh, session 5), and several nodes on one
// database each add writers of their own.
const deliverWriters = 1

// deliverReq is one Deliver call queued for group commit.
type deliverReq struct {
	accounts  []int64
	names     []string
	sysflags  []int32
	keywords  []string
	body      []byte
	structure []byte
	date      int64
	events    []store.Event   // written with the delivery unless it is refused; ID and Seq filled in
	out       []store.Message // per target: Flags, InternalDate and Size set by Deliver
	err       error           // this delivery's own failure (quota, unknown account)
	done      chan error
}

// startDeliverers starts the writer goroutines.
func (s *Store) startDeliverers() {
	s.deliveries = make(chan *deliverReq, maxBatch)
	s.deliverQuit = make(chan struct{})
	for range deliverWriters {
		s.deliverDone.Add(1)
		go s.deliverer()
	}
}

// stopDeliverers ends the writers after the batches in flight.
func (s *Store) stopDeliverers() {
	s.deliverMu.Lock() // waits for senders, which the writers unblock
	s.deliverClosed = true
	s.deliverMu.Unlock()
	close(s.deliverQuit)
	s.deliverDone.Wait()
}

func (s *Store) deliverer() {
	defer s.deliverDone.Done()
	for {
		var batch []*deliverReq
		select {
		case r := <-s.deliveries:
			batch = append(batch, r)
		case <-s.deliverQuit:
			// Close let no more in: refuse what is left.
			for {
				select {
				case r := <-s.deliveries:
					r.done <- store.ErrClosed
				default:
					return
				}
			}
		}
	more:
		for len(batch) < maxBatch {
			select {
			case r := <-s.deliveries:
				batch = append(batch, r)
			default:
				break more
			}
		}
		s.commitBatch(batch)
	}
}

// queueDeliver hands r to a writer and waits for its commit.
func (s *Store) queueDeliver(ctx context.Context, r *deliverReq) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.done = make(chan error, 1)
	s.deliverMu.RLock()
	if s.deliverClosed {
		s.deliverMu.RUnlock()
		return store.ErrClosed
	}
	select {
	case s.deliveries <- r:
		s.deliverMu.RUnlock()
	case <-ctx.Done():
		s.deliverMu.RUnlock()
		return ctx.Err()
	}
	// Once queued, the delivery may commit: wait for the outcome
	// whatever ctx does, so an error is never reported for a stored
	// message.
	if err := <-r.done; err != nil {
		return err
	}
	return r.err
}

// commitBatch runs a batch in one implicit transaction and reports to
// each request. Requests are sent in the order of their first account,
// so batches of two nodes tend to lock mailboxes in the same order; a
// deadlock or serialization failure all the same runs the batch again.
func (s *Store) commitBatch(batch []*deliverReq) {
	slices.SortStableFunc(batch, func(a, b *deliverReq) int {
		return cmp.Compare(slices.Min(a.accounts), slices.Min(b.accounts))
	})
	var err error
	for attempt := 1; ; attempt++ {
		err = s.sendBatch(batch)
		if attempt < maxAttempts && isRetryable(err) {
			continue
		}
		break
	}
	if err != nil {
		err = s.mapErr(err)
	}
	s.batches.Add(1)
	s.batched.Add(int64(len(batch)))
	for _, r := range batch {
		if err == nil && r.err == nil {
			for i, m := range r.out {
				s.notify.Notify(r.accounts[i], m.MailboxID)
			}
		}
		r.done <- err
	}
}

// sendBatch sends the batch and reads every result into the requests;
// it returns when the batch's transaction has committed (or failed).
func (s *Store) sendBatch(batch []*deliverReq) error {
	pool, err := s.db()
	if err != nil {
		return err
	}
	b := &pgx.Batch{}
	for _, r := range batch {
		b.Queue(sqlDeliver, r.args()...)
	}
	if !slices.ContainsFunc(batch, func(r *deliverReq) bool { return len(r.events) > 0 }) {
		return readBatch(pool.SendBatch(context.Background(), b), batch) // COMMIT at the batch's end
	}
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if err := readBatch(tx.SendBatch(ctx, b), batch); err != nil {
		return err
	}
	var evs []store.Event
	for _, r := range batch {
		if r.err == nil {
			evs = append(evs, r.events...)
		}
	}
	if err := s.addEvents(ctx, tx, evs, time.Now()); err != nil {
		return err
	}
	for _, r := range batch {
		if r.err == nil {
			n := copy(r.events, evs)
			evs = evs[n:]
		}
	}
	return tx.Commit(ctx)
}

// readBatch reads every request's results from br and closes it.
func readBatch(br pgx.BatchResults, batch []*deliverReq) error {
	for _, r := range batch {
		if err := r.read(br); err != nil {
			br.Close()
			return err
		}
	}
	return br.Close()
}

// sqlDeliver is one delivery, its arguments deliverReq.args.
const sqlDeliver = `SELECT r_err, r_target, r_mailbox, r_uid, r_id, r_modseq FROM posthorn_deliver($1, $2, $3, $4, $5, $6, $7)`

func (r *deliverReq) args() []any {
	return []any{r.accounts, r.names, r.sysflags, r.keywords, r.body, r.structure, r.date}
}

// read takes one request's result rows from a batch.
func (r *deliverReq) read(br pgx.BatchResults) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	return r.readRows(rows)
}

// readRows takes the result rows of sqlDeliver into r.out, or r.err for
// a refused delivery, and closes rows.
func (r *deliverReq) readRows(rows pgx.Rows) error {
	r.err = nil
	defer rows.Close()
	for rows.Next() {
		var (
			e                                *string
			target, mailbox, uid, id, modseq int64
		)
		if err := rows.Scan(&e, &target, &mailbox, &uid, &id, &modseq); err != nil {
			return err
		}
		switch {
		case e == nil && target >= 1 && int(target) <= len(r.out):
			m := &r.out[target-1]
			m.ID, m.MailboxID, m.UID, m.ModSeq = id, mailbox, uint32(uid), uint64(modseq)
		case e != nil && *e == "quota":
			r.err = fmt.Errorf("deliver: %w", store.ErrOverQuota)
		case e != nil:
			r.err = fmt.Errorf("deliver: unknown account: %w", store.ErrNotFound)
		default:
			return fmt.Errorf("posthorn_deliver returned target %d of %d", target, len(r.out))
		}
	}
	return rows.Err()
}
