package storecopy

import (
	"context"
	"crypto/sha256"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// MaxDifferences is how many differences a Report names; more are only
// counted.
const MaxDifferences = 20

// Report is the outcome of Verify.
type Report struct {
	// Checked counts what was compared (the source's side).
	Checked Counts
	// Differences names the first MaxDifferences mismatches found;
	// Mismatches counts them all. Zero means the stores are equal in
	// everything Verify reads.
	Differences []string
	Mismatches  int
}

// String summarises what was compared.
func (r *Report) String() string {
	c := r.Checked
	return fmt.Sprintf("%d domains, %d accounts (credentials, usage), %d app passwords, %d aliases, %d mailboxes (status), "+
		"%d messages (flags, body, structure), %d change-log entries, %d queued (with body), %d events, %d suppressions, "+
		"%d webhook endpoints, %d webhook deliveries, %d API keys",
		c.Domains, c.Accounts, c.AppPasswords, c.Aliases, c.Mailboxes, c.Messages, c.Changes, c.Queued, c.Events,
		c.Suppressions, c.WebhookEndpoints, c.WebhookDeliveries, c.APIKeys)
}

// OK reports whether no difference was found.
func (r *Report) OK() bool { return r.Mismatches == 0 }

func (r *Report) differ(format string, args ...any) {
	r.Mismatches++
	if len(r.Differences) < MaxDifferences {
		r.Differences = append(r.Differences, fmt.Sprintf(format, args...))
	}
}

// Verify compares two stores through the store.Store interface only, as
// clients of either would read them: domains; accounts with their
// credentials, app passwords and Usage; aliases; per mailbox its record,
// MailboxStatus (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, counts, size),
// every message (ID, UID, MODSEQ, flags, internal date, size), the
// SHA-256 of every body, every structure, and Changes(0); the queue with
// bodies; each domain's events and suppressions; webhook endpoints with
// their deliveries; API keys. The interface cannot list idempotency
// records nor the events of domains no longer served: with export (the
// source's Exporter; may be nil) Verify also reads the source's records
// and looks each idempotency record up in dst, and compares the events
// of every domain the source's events name. The error is for failed
// reads (other than on the target, which are differences); the Report
// holds the differences.
func Verify(ctx context.Context, src, dst store.Store, export Exporter) (*Report, error) {
	v := &verifier{ctx: ctx, src: src, dst: dst, r: &Report{}, served: map[string]bool{}}
	for _, step := range []func() error{v.domains, v.accounts, v.aliases, v.queue, v.endpoints, v.apiKeys} {
		if err := step(); err != nil {
			return v.r, err
		}
	}
	if export != nil {
		if err := v.exported(export); err != nil {
			return v.r, err
		}
	}
	return v.r, nil
}

type verifier struct {
	ctx      context.Context
	src, dst store.Store
	r        *Report
	served   map[string]bool // the source's domains, whose events domains() compared
}

// read calls get on both stores. A target error that the source did not
// have is a difference (ok false, err nil); a source error is returned.
func read[T any](v *verifier, what string, get func(store.Store) (T, error)) (a, b T, ok bool, err error) {
	a, err = get(v.src)
	if err != nil {
		return a, b, false, fmt.Errorf("verify: source: %s: %w", what, err)
	}
	b, err = get(v.dst)
	if err != nil {
		if v.ctx.Err() != nil {
			return a, b, false, v.ctx.Err()
		}
		v.r.differ("%s: target: %v", what, err)
		return a, b, false, nil
	}
	return a, b, true, nil
}

// same compares a and b after normalising both (times to UTC, empty
// slices to nil) and records a difference named what.
func same[T any](v *verifier, what string, a, b T) bool {
	normalize(reflect.ValueOf(&a).Elem())
	normalize(reflect.ValueOf(&b).Elem())
	if reflect.DeepEqual(a, b) {
		return true
	}
	v.r.differ("%s: source %+v, target %+v", what, a, b)
	return false
}

// sameList compares two lists by key (unique in each list): an element
// missing on one side, or different, is a difference named by its key.
// It reports whether the lists were equal.
func sameList[T any](v *verifier, what string, a, b []T, key func(T) string) bool {
	inB := make(map[string]int, len(b))
	for i, x := range b {
		inB[key(x)] = i
	}
	ok := true
	for _, x := range a {
		k := key(x)
		i, found := inB[k]
		if !found {
			v.r.differ("%s: %s missing in the target", what, k)
			ok = false
			continue
		}
		delete(inB, k)
		ok = same(v, what+": "+k, x, b[i]) && ok
	}
	for _, x := range b {
		if _, extra := inB[key(x)]; extra {
			v.r.differ("%s: %s only in the target", what, key(x))
			ok = false
		}
	}
	return ok
}

var timeType = reflect.TypeFor[time.Time]()

// normalize rewrites v in place: times in UTC, empty slices nil, strings
// through store.ValidText, so that two backends' equal values are DeepEqual.
func normalize(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(store.ValidText(v.String()))
	case reflect.Struct:
		if v.Type() == timeType {
			v.Set(reflect.ValueOf(v.Interface().(time.Time).UTC()))
			return
		}
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				normalize(f)
			}
		}
	case reflect.Slice:
		if v.Len() == 0 {
			v.SetZero()
			return
		}
		if k := v.Type().Elem().Kind(); k == reflect.Struct || k == reflect.Slice || k == reflect.Pointer {
			// Copy before rewriting: the store may share the slice.
			c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
			reflect.Copy(c, v)
			for i := range c.Len() {
				normalize(c.Index(i))
			}
			v.Set(c)
		}
	case reflect.Pointer:
		if !v.IsNil() {
			e := reflect.New(v.Type().Elem())
			e.Elem().Set(v.Elem())
			normalize(e.Elem())
			v.Set(e)
		}
	}
}

func (v *verifier) domains() error {
	a, b, ok, err := read(v, "domains", func(s store.Store) ([]store.Domain, error) { return s.Domains(v.ctx) })
	if err != nil || !ok {
		return err
	}
	v.r.Checked.Domains = len(a)
	sameList(v, "domain", a, b, func(d store.Domain) string { return d.Name })
	for _, d := range a {
		v.served[d.Name] = true
		if err := v.domainData(d.Name); err != nil {
			return err
		}
	}
	return nil
}

// domainData compares a domain's events and suppressions, page by page.
func (v *verifier) domainData(domain string) error {
	var after int64
	for {
		f := store.EventFilter{Domain: domain, After: after, Limit: 1000}
		a, b, ok, err := read(v, "events of "+domain, func(s store.Store) ([]store.Event, error) { return s.QueryEvents(v.ctx, f) })
		if err != nil || !ok {
			return err
		}
		v.r.Checked.Events += len(a)
		if !sameList(v, "event of "+domain, a, b, func(e store.Event) string { return e.ID }) || len(a) == 0 {
			break
		}
		after = a[len(a)-1].Seq
	}
	last := ""
	for {
		a, b, ok, err := read(v, "suppressions of "+domain, func(s store.Store) ([]store.Suppression, error) {
			return s.Suppressions(v.ctx, domain, last, 1000)
		})
		if err != nil || !ok {
			return err
		}
		v.r.Checked.Suppressions += len(a)
		if !sameList(v, "suppression of "+domain, a, b, func(s store.Suppression) string { return s.Address }) || len(a) == 0 {
			return nil
		}
		last = a[len(a)-1].Address
	}
}

func (v *verifier) accounts() error {
	a, b, ok, err := read(v, "accounts", func(s store.Store) ([]store.Account, error) { return s.Accounts(v.ctx, "") })
	if err != nil || !ok {
		return err
	}
	v.r.Checked.Accounts = len(a)
	sameList(v, "account", a, b, func(a store.Account) string { return a.Address })
	for _, acc := range a {
		if err := v.account(acc); err != nil {
			return err
		}
	}
	return nil
}

func (v *verifier) account(acc store.Account) error {
	ctx, addr := v.ctx, acc.Address
	ok, ca, cb, err := credentials(v, addr)
	if err != nil {
		return err
	}
	if ok {
		same(v, "credentials of "+addr, ca, cb)
	}
	pa, pb, ok, err := read(v, "app passwords of "+addr, func(s store.Store) ([]store.AppPassword, error) {
		return s.AppPasswords(ctx, addr)
	})
	if err != nil {
		return err
	}
	if ok {
		v.r.Checked.AppPasswords += len(pa)
		sameList(v, "app password of "+addr, pa, pb, func(p store.AppPassword) string { return p.Name })
	}
	ua, ub, ok, err := read(v, "usage of "+addr, func(s store.Store) (int64, error) { return s.Usage(ctx, acc.ID) })
	if err != nil {
		return err
	}
	if ok {
		same(v, "usage of "+addr, ua, ub)
	}
	ma, mb, ok, err := read(v, "mailboxes of "+addr, func(s store.Store) ([]store.Mailbox, error) { return s.Mailboxes(ctx, acc.ID) })
	if err != nil || !ok {
		return err
	}
	v.r.Checked.Mailboxes += len(ma)
	sameList(v, "mailbox of "+addr, ma, mb, func(m store.Mailbox) string { return m.Name })
	for _, m := range ma {
		if err := v.mailbox(addr+" "+m.Name, m.ID); err != nil {
			return err
		}
	}
	return nil
}

func credentials(v *verifier, addr string) (ok bool, a, b store.Credentials, err error) {
	type pair struct {
		acc  store.Account
		cred store.Credentials
	}
	pa, pb, ok, err := read(v, "credentials of "+addr, func(s store.Store) (pair, error) {
		acc, cred, err := s.Credentials(v.ctx, addr)
		return pair{acc, cred}, err
	})
	return ok, pa.cred, pb.cred, err
}

// mailbox compares one mailbox: status, message list, bodies (by
// SHA-256), structures and the change log.
func (v *verifier) mailbox(name string, id int64) error {
	ctx := v.ctx
	sa, sb, ok, err := read(v, "status of "+name, func(s store.Store) (store.MailboxStatus, error) { return s.MailboxStatus(ctx, id) })
	if err != nil {
		return err
	}
	if ok {
		same(v, "status of "+name, sa, sb)
	}
	ma, mb, ok, err := read(v, "messages of "+name, func(s store.Store) ([]store.Message, error) { return s.MessagesFrom(ctx, id, 1) })
	if err != nil {
		return err
	}
	if ok {
		v.r.Checked.Messages += len(ma)
		sameList(v, "message of "+name, ma, mb, func(m store.Message) string { return fmt.Sprintf("UID %d", m.UID) })
	}
	ha, hb, ok, err := read(v, "bodies of "+name, func(s store.Store) (map[uint32][32]byte, error) { return bodyHashes(ctx, s, id) })
	if err != nil {
		return err
	}
	if ok {
		for _, m := range ma {
			if ha[m.UID] != hb[m.UID] {
				v.r.differ("body of %s UID %d: SHA-256 source %x, target %x", name, m.UID, ha[m.UID], hb[m.UID])
			}
		}
	}
	for _, m := range ma {
		what := fmt.Sprintf("structure of %s UID %d", name, m.UID)
		xa, xb, ok, err := read(v, what, func(s store.Store) ([]byte, error) { return s.MessageStructure(ctx, m.ID) })
		if err != nil {
			return err
		}
		if ok {
			same(v, what, xa, xb)
		}
	}
	ca, cb, ok, err := read(v, "changes of "+name, func(s store.Store) ([]store.Change, error) { return s.Changes(ctx, id, 0) })
	if err != nil || !ok {
		return err
	}
	v.r.Checked.Changes += len(ca)
	sameList(v, "change of "+name, ca, cb, func(c store.Change) string { return fmt.Sprintf("UID %d", c.UID) })
	return nil
}

// bodyHashes is the SHA-256 of every body of a mailbox by UID.
func bodyHashes(ctx context.Context, s store.Store, mailboxID int64) (map[uint32][32]byte, error) {
	out := map[uint32][32]byte{}
	err := s.ForEachBody(ctx, mailboxID, nil, func(m store.Message, body []byte) error {
		out[m.UID] = sha256.Sum256(body)
		return nil
	})
	return out, err
}

func (v *verifier) aliases() error {
	a, b, ok, err := read(v, "aliases", func(s store.Store) ([]store.Alias, error) { return s.Aliases(v.ctx, "") })
	if err != nil || !ok {
		return err
	}
	v.r.Checked.Aliases = len(a)
	sameList(v, "alias", a, b, func(a store.Alias) string { return a.Address })
	return nil
}

func (v *verifier) queue() error {
	ctx := v.ctx
	a, b, ok, err := read(v, "queue", func(s store.Store) ([]store.QueuedMessage, error) { return s.QueuedMessages(ctx, 0) })
	if err != nil || !ok {
		return err
	}
	v.r.Checked.Queued = len(a)
	sameList(v, "queued message", a, b, func(q store.QueuedMessage) string { return fmt.Sprint(q.ID) })
	for _, q := range a {
		what := fmt.Sprintf("body of queued message %d", q.ID)
		ba, bb, ok, err := read(v, what, func(s store.Store) ([32]byte, error) {
			body, err := s.QueuedBody(ctx, q.ID)
			return sha256.Sum256(body), err
		})
		if err != nil {
			return err
		}
		if ok {
			same(v, what, ba, bb)
		}
	}
	return nil
}

func (v *verifier) endpoints() error {
	ctx := v.ctx
	a, b, ok, err := read(v, "webhook endpoints", func(s store.Store) ([]store.WebhookEndpoint, error) {
		return s.WebhookEndpoints(ctx, "")
	})
	if err != nil || !ok {
		return err
	}
	v.r.Checked.WebhookEndpoints = len(a)
	sameList(v, "webhook endpoint", a, b, func(e store.WebhookEndpoint) string { return fmt.Sprint(e.ID) })
	for _, e := range a {
		what := fmt.Sprintf("deliveries of webhook endpoint %d", e.ID)
		da, db, ok, err := read(v, what, func(s store.Store) ([]store.WebhookDelivery, error) { return s.WebhookDeliveries(ctx, e.ID, 0) })
		if err != nil {
			return err
		}
		if ok {
			v.r.Checked.WebhookDeliveries += len(da)
			sameList(v, "webhook delivery", da, db, func(d store.WebhookDelivery) string { return fmt.Sprint(d.ID) })
		}
	}
	return nil
}

func (v *verifier) apiKeys() error {
	a, b, ok, err := read(v, "API keys", func(s store.Store) ([]store.APIKey, error) { return s.APIKeys(v.ctx, "") })
	if err != nil || !ok {
		return err
	}
	v.r.Checked.APIKeys = len(a)
	sameList(v, "API key", a, b, func(k store.APIKey) string { return k.Name })
	return nil
}

// exported walks the source's records for what the interface cannot
// list: idempotency records, and events of domains no longer served.
func (v *verifier) exported(export Exporter) error {
	x := &exportChecks{v: v, orphans: map[string]bool{}}
	if err := export(v.ctx, x); err != nil {
		return fmt.Errorf("verify: source: %w", err)
	}
	for _, d := range slices.Sorted(maps.Keys(x.orphans)) {
		if err := v.domainData(d); err != nil {
			return err
		}
	}
	return nil
}

// exportChecks is the Sink of exported; the kinds it does not override
// are only counted (Counter without Next).
type exportChecks struct {
	Counter
	v       *verifier
	orphans map[string]bool
}

func (x *exportChecks) Event(_ context.Context, e Event) error {
	if !x.v.served[e.Domain] {
		x.orphans[e.Domain] = true
	}
	return nil
}

func (x *exportChecks) Idempotency(ctx context.Context, r Idempotency) error {
	v := x.v
	v.r.Checked.Idempotency++
	what := fmt.Sprintf("idempotency record %q of API key %d", r.Key, r.KeyID)
	b, err := v.dst.IdempotencyRecord(ctx, r.KeyID, r.Key)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		v.r.differ("%s: target: %v", what, err)
		return nil
	}
	same(v, what, r.IdempotencyRecord, b)
	return nil
}
