package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/storecopy"
)

// Export writes the whole store to sink (posthorn migrate), in the order
// package storecopy gives, with every ID, UID, MODSEQ and counter as
// stored. It reads in one transaction, one consistent snapshot, and holds
// one body at a time in memory. Writes of this or another process may go
// on meanwhile but are not in the export: stop the server before a
// migration.
func (s *Store) Export(ctx context.Context, sink storecopy.Sink) error {
	if s.isClosed.Load() {
		return store.ErrClosed
	}
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer tx.Rollback()
	x := exporter{ctx: ctx, tx: tx, sink: sink}
	for _, step := range []func() error{
		x.meta, x.domains, x.accounts, x.appPasswords, x.aliases, x.mailboxes, x.bodies, x.messages,
		x.changes, x.queue, x.events, x.suppressions, x.endpoints, x.deliveries, x.apiKeys, x.idempotency,
	} {
		if err := step(); err != nil {
			return fmt.Errorf("export: %w", err)
		}
	}
	return nil
}

type exporter struct {
	ctx  context.Context
	tx   *sql.Tx
	sink storecopy.Sink
}

// each runs query in the export's transaction and calls fn per row.
func (x *exporter) each(query string, fn func(r *sql.Rows) error) error {
	rows, err := x.tx.QueryContext(x.ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// withExtra scans a row's leading columns with scan and the rest into
// extra, so the package's scanX functions serve the export too.
type withExtra struct {
	r     rowScanner
	extra []any
}

func (w withExtra) Scan(dest ...any) error { return w.r.Scan(append(dest, w.extra...)...) }

func (x *exporter) meta() error {
	var uv int64
	if err := x.tx.QueryRowContext(x.ctx, `SELECT value FROM meta WHERE key = 'uidvalidity'`).Scan(&uv); err != nil {
		return err
	}
	m := storecopy.Meta{UIDValidity: uint32(uv), LastIDs: map[string]int64{}}
	// AUTOINCREMENT tables keep their highest ID ever in sqlite_sequence.
	err := x.each(`SELECT name, seq FROM sqlite_sequence`, func(r *sql.Rows) error {
		var name string
		var seq int64
		if err := r.Scan(&name, &seq); err != nil {
			return err
		}
		m.LastIDs[name] = seq
		return nil
	})
	if err != nil {
		return err
	}
	return x.sink.Meta(x.ctx, m)
}

func (x *exporter) domains() error {
	return x.each(`SELECT id, name, created FROM domains ORDER BY id`, func(r *sql.Rows) error {
		var d storecopy.Domain
		var created int64
		if err := r.Scan(&d.ID, &d.Name, &created); err != nil {
			return err
		}
		d.Created = fromMicro(created)
		return x.sink.Domain(x.ctx, d)
	})
}

func (x *exporter) accounts() error {
	return x.each(`SELECT `+accountColumns+`, a.domain_id, a.password_hash, a.scram_salt, a.scram_iterations,
		a.scram_stored_key, a.scram_server_key FROM accounts a JOIN domains d ON d.id = a.domain_id ORDER BY a.id`,
		func(r *sql.Rows) error {
			var a storecopy.Account
			c := &a.Credentials
			var err error
			a.Account, err = scanAccount(r, &a.DomainID, &c.PasswordHash, &c.SCRAM.Salt, &c.SCRAM.Iterations,
				&c.SCRAM.StoredKey, &c.SCRAM.ServerKey)
			if err != nil {
				return err
			}
			return x.sink.Account(x.ctx, a)
		})
}

func (x *exporter) appPasswords() error {
	return x.each(`SELECT account_id, name, created, password_hash FROM app_passwords ORDER BY account_id, name`,
		func(r *sql.Rows) error {
			var p storecopy.AppPassword
			var created int64
			if err := r.Scan(&p.AccountID, &p.Name, &created, &p.Credentials.PasswordHash); err != nil {
				return err
			}
			p.Created = fromMicro(created)
			return x.sink.AppPassword(x.ctx, p)
		})
}

// aliases sends each alias once its last target row has been read.
func (x *exporter) aliases() error {
	var cur *storecopy.Alias
	flush := func() error {
		if cur == nil {
			return nil
		}
		a := *cur
		cur = nil
		return x.sink.Alias(x.ctx, a)
	}
	err := x.each(`SELECT al.id, al.address, al.domain_id, al.created, t.address FROM aliases al
		JOIN alias_targets t ON t.alias_id = al.id ORDER BY al.id, t.position`, func(r *sql.Rows) error {
		var a storecopy.Alias
		var created int64
		var target string
		if err := r.Scan(&a.ID, &a.Address, &a.DomainID, &created, &target); err != nil {
			return err
		}
		if cur != nil && cur.ID != a.ID {
			if err := flush(); err != nil {
				return err
			}
		}
		if cur == nil {
			a.Created = fromMicro(created)
			cur = &a
		}
		cur.Targets = append(cur.Targets, target)
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

func (x *exporter) mailboxes() error {
	return x.each(`SELECT `+mailboxColumns+`, uidnext, highestmodseq FROM mailboxes ORDER BY id`, func(r *sql.Rows) error {
		var m storecopy.Mailbox
		var err error
		m.Mailbox, err = scanMailbox(withExtra{r, []any{&m.UIDNext, &m.HighestModSeq}})
		if err != nil {
			return err
		}
		return x.sink.Mailbox(x.ctx, m)
	})
}

func (x *exporter) bodies() error {
	return x.each(`SELECT id, data, structure FROM blobs ORDER BY id`, func(r *sql.Rows) error {
		var b storecopy.Body
		if err := r.Scan(&b.ID, &b.Data, &b.Structure); err != nil {
			return err
		}
		return x.sink.Body(x.ctx, b)
	})
}

func (x *exporter) messages() error {
	return x.each(`SELECT `+messageColumns+`, blob_id FROM messages ORDER BY id`, func(r *sql.Rows) error {
		var m storecopy.Message
		var err error
		m.Message, _, err = scanMessage(r, &m.BodyID)
		if err != nil {
			return err
		}
		return x.sink.Message(x.ctx, m)
	})
}

func (x *exporter) changes() error {
	return x.each(`SELECT mailbox_id, uid, modseq, kind, flags FROM changes ORDER BY mailbox_id, uid`, func(r *sql.Rows) error {
		var c storecopy.Change
		var flags string
		if err := r.Scan(&c.MailboxID, &c.UID, &c.ModSeq, &c.Kind, &flags); err != nil {
			return err
		}
		if c.Kind == store.ChangeFlags {
			c.Flags = strings.Fields(flags)
		}
		return x.sink.Change(x.ctx, c)
	})
}

func (x *exporter) queue() error {
	return x.each(`SELECT `+queuedColumns+`, q.body FROM queue q ORDER BY q.id`, func(r *sql.Rows) error {
		var q storecopy.Queued
		var body []byte
		var err error
		q.QueuedMessage, err = scanQueued(withExtra{r, []any{&body}})
		if err != nil {
			return err
		}
		q.Body = body
		return x.sink.Queued(x.ctx, q)
	})
}

func (x *exporter) events() error {
	return x.each(`SELECT `+eventColumns+` FROM events ORDER BY seq`, func(r *sql.Rows) error {
		e, err := scanEvent(r)
		if err != nil {
			return err
		}
		return x.sink.Event(x.ctx, storecopy.Event{Event: e})
	})
}

func (x *exporter) suppressions() error {
	return x.each(`SELECT `+suppressionColumns+` FROM suppressions ORDER BY domain, address`, func(r *sql.Rows) error {
		s, err := scanSuppression(r)
		if err != nil {
			return err
		}
		return x.sink.Suppression(x.ctx, storecopy.Suppression{Suppression: s})
	})
}

func (x *exporter) endpoints() error {
	return x.each(`SELECT `+endpointColumns+` FROM webhook_endpoints ORDER BY id`, func(r *sql.Rows) error {
		e, err := scanEndpoint(r)
		if err != nil {
			return err
		}
		return x.sink.WebhookEndpoint(x.ctx, storecopy.WebhookEndpoint{WebhookEndpoint: e})
	})
}

func (x *exporter) deliveries() error {
	return x.each(`SELECT id, endpoint_id, event_seq, state, attempts, created, next_attempt, finished, lease, last_error
		FROM webhook_deliveries ORDER BY id`, func(r *sql.Rows) error {
		var d storecopy.WebhookDelivery
		var created, next, finished int64
		if err := r.Scan(&d.ID, &d.EndpointID, &d.EventSeq, &d.State, &d.Attempts, &created, &next, &finished,
			&d.Lease, &d.LastError); err != nil {
			return err
		}
		d.Created, d.NextAttempt = fromMicro(created), fromMicro(next)
		if finished != 0 {
			d.Finished = fromMicro(finished)
		}
		return x.sink.WebhookDelivery(x.ctx, d)
	})
}

func (x *exporter) apiKeys() error {
	return x.each(`SELECT `+apiKeyColumns+`, k.domain_id FROM api_keys k JOIN domains d ON d.id = k.domain_id ORDER BY k.id`,
		func(r *sql.Rows) error {
			var k storecopy.APIKey
			var err error
			k.APIKey, err = scanAPIKey(withExtra{r, []any{&k.DomainID}})
			if err != nil {
				return err
			}
			return x.sink.APIKey(x.ctx, k)
		})
}

func (x *exporter) idempotency() error {
	return x.each(`SELECT key_id, key, request_hash, status, response, created FROM idempotency ORDER BY key_id, key`,
		func(r *sql.Rows) error {
			var i storecopy.Idempotency
			var created int64
			if err := r.Scan(&i.KeyID, &i.Key, &i.RequestHash, &i.Status, &i.Response, &created); err != nil {
				return err
			}
			i.Created = fromMicro(created)
			return x.sink.Idempotency(x.ctx, i)
		})
}
