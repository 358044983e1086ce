package postgres

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/flagset"
	"github.com/posthorn/posthorn/internal/store/storecopy"
)

// Import copies a whole store into this one (posthorn migrate): export
// writes every record of the source (for instance (*sqlite.Store).Export)
// and Import inserts them with COPY, keeping every ID, UID, MODSEQ,
// UIDVALIDITY and lease, then recomputes what this schema derives (the
// STATUS counters of each mailbox, the reference count of each body) and
// moves the ID counters past the highest ID the source ever handed out.
// It all happens in one transaction: a failed import leaves the database
// as it was. The database must hold no mail data yet (a fresh database
// that Open has only migrated); otherwise Import fails before writing.
// It returns what it copied.
func (s *Store) Import(ctx context.Context, export storecopy.Exporter) (storecopy.Counts, error) {
	defer s.caches.gen.bump() // the directory cache: COPY fires the triggers too, for other nodes
	pool, err := s.db()
	if err != nil {
		return storecopy.Counts{}, err
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return storecopy.Counts{}, fmt.Errorf("import: %w", err)
	}
	defer tx.Rollback(context.Background())
	// No other writer while the copy runs: nodes started too early wait.
	if _, err := tx.Exec(ctx, `LOCK TABLE `+strings.Join(importTables, ", ")+` IN EXCLUSIVE MODE`); err != nil {
		return storecopy.Counts{}, fmt.Errorf("import: %w", err)
	}
	for _, t := range importTables {
		var used bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+t+`)`).Scan(&used); err != nil {
			return storecopy.Counts{}, fmt.Errorf("import: %w", err)
		}
		if used {
			return storecopy.Counts{}, fmt.Errorf("import: the target database is not empty (table %s has rows): "+
				"migrate into a new database", t)
		}
	}
	im := &importer{tx: tx, bufs: map[string]*copyBuf{}}
	c := &storecopy.Counter{Next: im}
	if err := export(ctx, c); err != nil {
		return c.Counts, fmt.Errorf("import: %w", err)
	}
	if err := im.flush(ctx); err != nil {
		return c.Counts, fmt.Errorf("import: %w", err)
	}
	if err := im.finish(ctx); err != nil {
		return c.Counts, fmt.Errorf("import: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return c.Counts, fmt.Errorf("import: %w", err)
	}
	return c.Counts, nil
}

// importTables are the tables Import fills, in the order of their
// foreign keys (the tables of storecopy.Columns).
var importTables = []string{"domains", "accounts", "app_passwords", "aliases", "alias_targets", "mailboxes", "blobs",
	"messages", "changes", "queue", "queue_recipients", "events", "suppressions", "webhook_endpoints",
	"webhook_deliveries", "api_keys", "idempotency"}

// importColumns are the columns Import writes into table: the shared
// data columns (storecopy.Columns), then this schema's extra ones, which
// the importer writes as placeholders for finish to compute.
func importColumns(table string) []string {
	return append(slices.Clone(storecopy.Columns[table]), extraColumns[table]...)
}

// extraColumns are written as 0 and set by finish from the copied rows.
var extraColumns = map[string][]string{"blobs": {"refs"}}

// derivedColumns have defaults and are set by finish from the copied
// rows.
var derivedColumns = map[string][]string{"mailboxes": {"size", "messages", "unseen", "deleted"}}

// idTables are the tables whose id (or seq) comes from a sequence, with
// that sequence's name.
var idTables = []struct{ table, column, sequence string }{
	{"domains", "id", ""}, {"accounts", "id", ""}, {"aliases", "id", ""}, {"mailboxes", "id", ""},
	{"blobs", "id", ""}, {"messages", "id", ""}, {"queue", "id", ""}, {"events", "seq", "events_seq"},
	{"webhook_endpoints", "id", ""}, {"webhook_deliveries", "id", ""}, {"api_keys", "id", ""},
}

// Buffered rows are sent with COPY when they hold this many bytes (or
// rows), so memory stays bounded whatever the store's size.
const (
	importFlushBytes = 16 << 20
	importFlushRows  = 10000
)

// copyBuf holds rows waiting for one COPY into one table.
type copyBuf struct {
	table string
	cols  []string
	rows  [][]any
}

// importer is the Sink of Import: rows are buffered per table and sent
// with COPY, the tables in the order they were first written to (the
// export's order, which follows the foreign keys).
type importer struct {
	tx      pgx.Tx
	bufs    map[string]*copyBuf
	order   []*copyBuf
	pending int // bytes buffered
	rows    int
	meta    storecopy.Meta
}

var _ storecopy.Sink = (*importer)(nil)

func (im *importer) add(ctx context.Context, table string, size int, row ...any) error {
	b := im.bufs[table]
	if b == nil {
		b = &copyBuf{table: table, cols: importColumns(table)}
		im.bufs[table] = b
		im.order = append(im.order, b)
	}
	for i, v := range row {
		if s, ok := v.(string); ok {
			row[i] = store.ValidText(s)
		}
	}
	b.rows = append(b.rows, row)
	im.pending += size + 64
	im.rows++
	if im.pending >= importFlushBytes || im.rows >= importFlushRows {
		return im.flush(ctx)
	}
	return nil
}

func (im *importer) flush(ctx context.Context) error {
	for _, b := range im.order {
		if len(b.rows) == 0 {
			continue
		}
		n, err := im.tx.CopyFrom(ctx, pgx.Identifier{b.table}, b.cols, pgx.CopyFromRows(b.rows))
		if err != nil {
			return fmt.Errorf("copy into %s: %w", b.table, err)
		}
		if int(n) != len(b.rows) {
			return fmt.Errorf("copy into %s: %d rows of %d", b.table, n, len(b.rows))
		}
		clear(b.rows)
		b.rows = b.rows[:0]
	}
	im.pending, im.rows = 0, 0
	return nil
}

// finish sets what the rows imply: the UIDVALIDITY counter, the
// mailboxes' STATUS counters, the bodies' reference counts, and every ID
// sequence past the source's highest ID.
func (im *importer) finish(ctx context.Context) error {
	tx := im.tx
	if _, err := tx.Exec(ctx, `UPDATE meta SET value = greatest(value, $1) WHERE key = 'uidvalidity'`,
		int64(im.meta.UIDValidity)); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE mailboxes m SET size = c.size, messages = c.n, unseen = c.unseen, deleted = c.deleted
		FROM (SELECT mailbox_id, sum(size) AS size, count(*) AS n,
				count(*) FILTER (WHERE sysflags & 8 = 0) AS unseen,
				count(*) FILTER (WHERE sysflags & 4 != 0) AS deleted
			FROM messages GROUP BY mailbox_id) c
		WHERE m.id = c.mailbox_id`); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE blobs b SET refs = r.n
		FROM (SELECT blob_id, count(*) AS n FROM messages GROUP BY blob_id) r WHERE b.id = r.blob_id`); err != nil {
		return err
	}
	for _, t := range idTables {
		seq := t.sequence
		if seq == "" {
			if err := tx.QueryRow(ctx, `SELECT pg_get_serial_sequence($1, $2)`, t.table, t.column).Scan(&seq); err != nil {
				return err
			}
		}
		last := im.meta.LastIDs[t.table]
		if _, err := tx.Exec(ctx, `SELECT setval($1::text::regclass, greatest(max(`+t.column+`), $2))
			FROM `+t.table+` HAVING greatest(max(`+t.column+`), $2) > 0`, seq, last); err != nil {
			return fmt.Errorf("sequence of %s: %w", t.table, err)
		}
	}
	return nil
}

func (im *importer) Meta(_ context.Context, m storecopy.Meta) error {
	im.meta = m
	return nil
}

func (im *importer) Domain(ctx context.Context, d storecopy.Domain) error {
	return im.add(ctx, "domains", len(d.Name), d.ID, d.Name, d.Created.UnixMicro())
}

func (im *importer) Account(ctx context.Context, a storecopy.Account) error {
	c := a.Credentials
	return im.add(ctx, "accounts", 256,
		a.ID, a.Address, a.DomainID, a.Created.UnixMicro(), c.PasswordHash, bytes.Clone(c.SCRAM.Salt), c.SCRAM.Iterations,
		bytes.Clone(c.SCRAM.StoredKey), bytes.Clone(c.SCRAM.ServerKey), a.MaySendAsDomain, a.QuotaBytes)
}

func (im *importer) AppPassword(ctx context.Context, p storecopy.AppPassword) error {
	return im.add(ctx, "app_passwords", 128,
		p.AccountID, p.Name, p.Created.UnixMicro(), p.Credentials.PasswordHash)
}

func (im *importer) Alias(ctx context.Context, a storecopy.Alias) error {
	if err := im.add(ctx, "aliases", len(a.Address),
		a.ID, a.Address, a.DomainID, a.Created.UnixMicro()); err != nil {
		return err
	}
	for i, t := range a.Targets {
		if err := im.add(ctx, "alias_targets", len(t), a.ID, i, t); err != nil {
			return err
		}
	}
	return nil
}

func (im *importer) Mailbox(ctx context.Context, m storecopy.Mailbox) error {
	return im.add(ctx, "mailboxes", len(m.Name),
		m.ID, m.AccountID, m.Name, string(m.SpecialUse), int64(m.UIDValidity), int64(m.UIDNext), int64(m.HighestModSeq),
		m.Subscribed)
}

// Body keeps refs 0 here; finish counts the messages using each body.
func (im *importer) Body(ctx context.Context, b storecopy.Body) error {
	return im.add(ctx, "blobs", len(b.Data)+len(b.Structure),
		b.ID, nonNil(bytes.Clone(b.Data)), bytes.Clone(b.Structure), 0)
}

func (im *importer) Message(ctx context.Context, m storecopy.Message) error {
	fl, err := flagset.Parse(m.Flags)
	if err != nil {
		return fmt.Errorf("message %d: %w", m.ID, err)
	}
	return im.add(ctx, "messages", 64,
		m.ID, m.MailboxID, int64(m.UID), int64(m.ModSeq), fl.Sys, fl.KeywordText(), m.InternalDate.UnixMicro(), m.Size, m.BodyID)
}

func (im *importer) Change(ctx context.Context, c storecopy.Change) error {
	return im.add(ctx, "changes", 64,
		c.MailboxID, int64(c.UID), int64(c.ModSeq), int(c.Kind), strings.Join(c.Flags, " "))
}

func (im *importer) Queued(ctx context.Context, q storecopy.Queued) error {
	err := im.add(ctx, "queue",
		len(q.Body)+256,
		q.ID, q.AccountID, q.From, q.UTF8, q.RequireTLS, q.Size, q.Queued.UnixMicro(), q.NextAttempt.UnixMicro(), q.Attempts,
		q.Held, q.Lease, q.LeaseHolder, q.LastError, q.Warned, q.TrackingID, q.Domain, nilIfEmpty(bytes.Clone(q.EventData)), q.Submitter,
		nonNil(bytes.Clone(q.Body)))
	if err != nil {
		return err
	}
	for i, r := range q.Status {
		if err := im.add(ctx, "queue_recipients",
			len(r.Address)+len(r.Reply), q.ID, i, r.Address, int16(r.State), r.Reply); err != nil {
			return err
		}
	}
	return nil
}

func (im *importer) Event(ctx context.Context, e storecopy.Event) error {
	return im.add(ctx, "events", len(e.Data)+128,
		e.Seq, e.ID, e.Time.UnixMicro(), string(e.Type), e.Domain, e.Message, e.Recipient, e.Reply,
		microOrZero(e.NextAttempt), nilIfEmpty(bytes.Clone(e.Data)), e.Submitter)
}

func (im *importer) Suppression(ctx context.Context, s storecopy.Suppression) error {
	return im.add(ctx, "suppressions", 128,
		s.Domain, s.Address, s.Reason, s.Created.UnixMicro(), s.EventID)
}

func (im *importer) WebhookEndpoint(ctx context.Context, e storecopy.WebhookEndpoint) error {
	types := make([]string, len(e.Types))
	for i, t := range e.Types {
		types[i] = string(t)
	}
	return im.add(ctx, "webhook_endpoints", 256,
		e.ID, e.Domain, e.URL, e.Secret, strings.Join(types, ","), e.Enabled, e.Pattern, e.Keep, e.Created.UnixMicro())
}

func (im *importer) WebhookDelivery(ctx context.Context, d storecopy.WebhookDelivery) error {
	return im.add(ctx, "webhook_deliveries", 128,
		d.ID, d.EndpointID, d.EventSeq, int16(d.State), d.Attempts, d.Created.UnixMicro(), d.NextAttempt.UnixMicro(),
		microOrZero(d.Finished), d.Lease, d.LastError)
}

func (im *importer) APIKey(ctx context.Context, k storecopy.APIKey) error {
	return im.add(ctx, "api_keys", 128,
		k.ID, k.Name, k.DomainID, k.Address, k.Prefix, nonNil(bytes.Clone(k.Hash)), k.Created.UnixMicro())
}

func (im *importer) Idempotency(ctx context.Context, r storecopy.Idempotency) error {
	return im.add(ctx, "idempotency",
		len(r.Response)+128,
		r.KeyID, r.Key, nonNil(bytes.Clone(r.RequestHash)), r.Status, nonNil(bytes.Clone(r.Response)), r.Created.UnixMicro())
}
