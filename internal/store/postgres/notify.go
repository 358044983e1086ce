package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/posthorn/posthorn/internal/claimloop"
	"github.com/posthorn/posthorn/internal/store"
)

// Change notification across nodes. Every write transaction announces
// the mailboxes it changed that some node watches (watch.go) with
// pg_notify on notifyChannel (delivered to listeners only if and when it
// commits), and after COMMIT wakes this
// Store's own watchers directly, so a session's own write wakes its
// watch before the call returns. Each Store keeps one connection
// LISTENing on the channel and feeds what arrives to its store.Notifier;
// after that connection is lost and re-established it wakes every
// watcher once, since notifications may have been missed meanwhile.

// notifyChannel is the LISTEN/NOTIFY channel of mail changes. A payload
// is "accountID mailboxID" (mailboxID 0: an account-wide change).
const notifyChannel = "posthorn_mail"

// touched collects what a write transaction changed.
type touched struct {
	pairs []touch
}

type touch struct{ account, mailbox int64 }

// add records a change to a mailbox of an account (mailbox 0: the
// account as a whole, e.g. a mailbox created or subscribed).
func (t *touched) add(accountID, mailboxID int64) {
	p := touch{accountID, mailboxID}
	for _, q := range t.pairs {
		if q == p {
			return
		}
	}
	t.pairs = append(t.pairs, p)
}

// publish queues the notifications in tx (sent at COMMIT) of the
// changes some node watches. It must come after the transaction's row
// locks (watch.go).
func (t *touched) publish(ctx context.Context, tx pgx.Tx) error {
	if len(t.pairs) == 0 {
		return nil
	}
	accounts, boxes := make([]int64, len(t.pairs)), make([]int64, len(t.pairs))
	for i, p := range t.pairs {
		accounts[i], boxes[i] = p.account, p.mailbox
	}
	_, err := tx.Exec(ctx, `SELECT pg_notify('`+notifyChannel+`', p.a || ' ' || p.m)
		FROM unnest($1::bigint[], $2::bigint[]) AS p(a, m) WHERE `+sqlWatched("p.a", "p.m"), accounts, boxes)
	return err
}

// wake notifies the local watchers.
func (t *touched) wake(n *store.Notifier) {
	for _, p := range t.pairs {
		n.Notify(p.account, p.mailbox)
	}
}

// parsePayload reads a notification payload.
func parsePayload(s string) (account, mailbox int64, err error) {
	a, m, ok := strings.Cut(s, " ")
	if !ok {
		return 0, 0, fmt.Errorf("bad notification payload %q", s)
	}
	if account, err = strconv.ParseInt(a, 10, 64); err != nil {
		return 0, 0, err
	}
	mailbox, err = strconv.ParseInt(m, 10, 64)
	return account, mailbox, err
}

// listen connects a connection and LISTENs on it.
func (s *Store) listen(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, err
	}
	for _, ch := range listenChannels {
		if _, err := conn.Exec(ctx, "LISTEN "+ch); err != nil {
			conn.Close(context.Background())
			return nil, err
		}
	}
	// The server's own PID (a pooler in session mode reports one of its
	// own at connect), which the sweeps look for in pg_stat_activity.
	var pid int32
	if err := conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	s.watches.listener.Store(uint32(pid))
	// Writers announce only registered mailboxes, and the rows of a lost
	// connection's PID are stale: register again before anything counts
	// as heard.
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = s.reregister(rctx)
	cancel()
	if err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("registering watched mailboxes: %w", err)
	}
	s.caches.listening(conn.PgConn().PID())
	return conn, nil
}

// startListener opens the LISTEN connection before Open returns, so
// changes committed after Open are seen, and runs the loop that reads it.
func (s *Store) startListener(ctx context.Context) error {
	conn, err := s.listen(ctx)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Rows of nodes gone since the last sweep.
	if err := s.sweepDeadWatches(ctx); err != nil {
		s.log.Warn("postgres: sweeping watch registrations", "err", err)
	}
	lctx, cancel := context.WithCancel(context.Background())
	s.stopListen = cancel
	s.listenDone, s.sweepDone = make(chan struct{}), make(chan struct{})
	go s.listenLoop(lctx, conn)
	go s.watchSweeper(lctx, s.sweepDone)
	return nil
}

func (s *Store) stopListener() {
	s.stopListen()
	<-s.listenDone
	<-s.sweepDone
}

// listenLoop feeds notifications to the Notifier until ctx ends,
// reconnecting with a growing pause (up to 5 s) when the connection
// fails.
func (s *Store) listenLoop(ctx context.Context, conn *pgx.Conn) {
	defer close(s.listenDone)
	down := claimloop.NewOutage(s.log, "postgres: LISTEN reconnect", 0)
	pause := 100 * time.Millisecond
	for {
		for conn != nil {
			n, err := conn.WaitForNotification(ctx)
			if err != nil {
				conn.Close(context.Background())
				conn = nil
				s.caches.lost()
				if ctx.Err() != nil {
					return
				}
				s.log.Warn("postgres: LISTEN connection lost", "err", err)
				break
			}
			pause = 100 * time.Millisecond
			if s.caches.notified(n) || s.isOwn(n.PID) {
				continue
			}
			acct, mbox, err := parsePayload(n.Payload)
			if err != nil {
				s.log.Warn("postgres: notification", "err", err)
				continue
			}
			s.notify.Notify(acct, mbox)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
		if fn := s.beforeReconnect.Load(); fn != nil {
			(*fn)()
		}
		c, err := s.listen(ctx)
		if err != nil {
			down.Fail(err) // one line per outage, not one per try
			continue
		}
		down.OK()
		conn = c
		s.log.Info("postgres: LISTEN connection restored")
		// Changes committed while nobody listened went unannounced.
		s.notify.NotifyAll()
	}
}

// isOwn reports whether a notification came from one of this Store's
// connections (already announced locally after its COMMIT).
func (s *Store) isOwn(pid uint32) bool {
	s.ownMu.Lock()
	defer s.ownMu.Unlock()
	return s.own[pid]
}
