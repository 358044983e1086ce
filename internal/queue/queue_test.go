package queue

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/delivery"
	"github.com/posthorn/posthorn/internal/delivery/deliverytest"
	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/postgres"
	"github.com/posthorn/posthorn/internal/store/postgres/pgtest"
	"github.com/posthorn/posthorn/internal/store/sqlite"
	"github.com/posthorn/posthorn/internal/testutil/poll"
	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// testbed is a worker with a store, a test DNS server and two receiving
// hosts: mx1 for remote.test, mx2 for plain.test (no SMTPUTF8) and
// elsewhere.test.
type testbed struct {
	st        store.Store
	w         *Worker
	mx1, mx2  *deliverytest.Sink
	dns       *dnstest.Server
	alice     store.Account
	deliverer *delivery.Deliverer
}

type bedOptions struct {
	giveUp       time.Duration
	delayWarning time.Duration
	perDest      int
	dataDelay    time.Duration
	// lease and attemptTimeout are the worker's (1m and its default
	// when zero).
	lease, attemptTimeout time.Duration
	// pgDSN puts the store on this PostgreSQL database instead of a new
	// SQLite file.
	pgDSN string
	// node names the worker's node (node-1 when ""); logger gets its log.
	node   string
	logger *slog.Logger
	// signer DKIM-signs the worker's notifications.
	signer Signer
}

func newTestbed(t *testing.T, o bedOptions) *testbed {
	t.Helper()
	base := fmt.Sprintf("127.%d.%d.", 200+rand.IntN(50), rand.IntN(256))
	ip1, ip2 := base+"21", base+"22"
	port := deliverytest.FreePort(t, ip1, ip2)
	tb := &testbed{}
	tb.mx1 = deliverytest.Start(t, ip1, port, deliverytest.Options{SMTPUTF8: true, DataDelay: o.dataDelay})
	tb.mx2 = deliverytest.Start(t, ip2, port, deliverytest.Options{})
	tb.dns = dnstest.Start(t,
		dnstest.Zone{Origin: "remote.test", Records: "@ MX 10 mx1\nmx1 A " + ip1},
		dnstest.Zone{Origin: "plain.test", Records: "@ MX 10 mx.plain.test.\nmx A " + ip2},
		dnstest.Zone{Origin: "elsewhere.test", Records: "@ A " + ip2}, // implicit MX
		dnstest.Zone{Origin: "nullmx.test", Records: "@ MX 0 ."},
		// The preferred host refuses connections; the next one takes it.
		dnstest.Zone{Origin: "fallback.test", Records: "@ MX 10 dead\n@ MX 20 mx1.remote.test.\ndead A " + base + "23"},
		// Mail would loop to ourselves.
		dnstest.Zone{Origin: "loop.test", Records: "@ MX 10 mail.example.org.\n"},
		dnstest.Zone{Origin: "example.org", Records: "mail A 127.0.0.1"},
	)
	res, err := dns.New(dns.Config{Servers: []string{tb.dns.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	var st store.Store
	if o.pgDSN != "" {
		st = openPostgres(t, o.pgDSN)
	} else {
		sq, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "mail.db"), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sq.Close() })
		st = sq
	}
	tb.st = st
	tb.alice = mustAccount(t, st, "alice@example.org")
	tb.deliverer = delivery.New(delivery.Options{Hostname: "mail.example.org", Resolver: res, Port: port,
		MaxPerDestination: o.perDest, IdleTimeout: 2 * time.Second})
	tb.w = tb.worker(o, st)
	tb.w.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		tb.w.Shutdown(ctx)
		tb.deliverer.Close()
	})
	return tb
}

// worker is a worker on st and tb's deliverer, not started (another can
// run beside tb.w, as on a second node).
func (tb *testbed) worker(o bedOptions, st store.Store) *Worker {
	w := New(Options{Store: st, Deliverer: tb.deliverer, Hostname: "mail.example.org", Node: cmp.Or(o.node, "node-1"), Logger: o.logger,
		RetryMin: 100 * time.Millisecond, RetryMax: 300 * time.Millisecond, GiveUp: o.giveUp, DelayWarning: o.delayWarning,
		Lease: cmp.Or(o.lease, time.Minute), AttemptTimeout: o.attemptTimeout, Poll: 50 * time.Millisecond, Signer: o.signer})
	return w
}

// openPostgres opens a PostgreSQL store on dsn, closed at the test's end.
func openPostgres(t *testing.T, dsn string) store.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func mustAccount(t *testing.T, st store.Store, addr string) store.Account {
	t.Helper()
	ctx := context.Background()
	dom := addr[strings.IndexByte(addr, '@')+1:]
	if ok, _ := st.HasDomain(ctx, dom); !ok {
		if err := st.AddDomain(ctx, dom); err != nil {
			t.Fatal(err)
		}
	}
	a, err := st.AddAccount(ctx, addr, store.Credentials{PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func testMessage(subject string) []byte {
	return []byte("From: alice@example.org\r\nTo: someone@remote.test\r\nSubject: " + subject +
		"\r\nMessage-ID: <" + subject + "@example.org>\r\n\r\nHello.\r\n.leading dot\r\n")
}

func (tb *testbed) enqueue(t *testing.T, from string, rcpts []string, body []byte, utf8 bool) int64 {
	t.Helper()
	id, err := tb.st.Enqueue(context.Background(), store.QueuedMessage{From: from, Recipients: rcpts, Body: body, UTF8: utf8})
	if err != nil {
		t.Fatal(err)
	}
	tb.w.Wake()
	return id
}

// waitGone waits until the message left the queue.
func (tb *testbed) waitGone(t *testing.T, id int64, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		_, err := tb.st.QueuedMessage(context.Background(), id)
		if err != nil {
			return
		}
		if time.Now().After(deadline) {
			m, _ := tb.st.QueuedMessage(context.Background(), id)
			t.Fatalf("message %d still queued after %v: %+v", id, timeout, m)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// inbox returns the bodies in an account's INBOX.
func (tb *testbed) inbox(t *testing.T, acct store.Account) [][]byte {
	t.Helper()
	ctx := context.Background()
	mb, err := tb.st.Mailbox(ctx, acct.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := tb.st.Messages(ctx, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, m := range msgs {
		b, err := tb.st.MessageBody(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestTemporaryThenSuccess(t *testing.T) {
	tb := newTestbed(t, bedOptions{})
	id := tb.enqueue(t, "alice@example.org", []string{"temp2@remote.test", "ok@remote.test"}, testMessage("temp"), false)
	tb.waitGone(t, id, 30*time.Second)
	msgs := tb.mx1.Messages()
	// ok@ in the first attempt, temp2@ in the third.
	if len(msgs) != 2 || strings.Join(msgs[0].To, ",") != "ok@remote.test" || strings.Join(msgs[1].To, ",") != "temp2@remote.test" {
		t.Fatalf("received %+v", msgs)
	}
	if !bytes.Contains(msgs[1].Data, []byte("\r\n.leading dot\r\n")) || !bytes.HasPrefix(msgs[1].Data, []byte("From: alice@example.org\r\n")) {
		t.Errorf("data not transparent: %q", msgs[1].Data)
	}
	if len(tb.inbox(t, tb.alice)) != 0 {
		t.Error("a notification was sent for a message that was delivered")
	}
}

// dsnReport is what Python's email package reads from a notification.
type dsnReport struct {
	ContentType string              `json:"content_type"`
	ReportType  string              `json:"report_type"`
	Parts       []string            `json:"parts"`
	PerRcpt     []map[string]string `json:"per_rcpt"`
	Reporting   map[string]string   `json:"reporting"`
	OrigHeaders string              `json:"orig_headers"`
	Subject     string              `json:"subject"`
	AutoSub     string              `json:"auto_submitted"`
}

const parseDSN = `
import sys, json, email, re
from email import policy
msg = email.message_from_bytes(sys.stdin.buffer.read(), policy=policy.default)
out = {"content_type": msg.get_content_type(), "report_type": msg.get_param("report-type"),
       "parts": [p.get_content_type() for p in msg.iter_parts()], "per_rcpt": [], "reporting": {},
       "subject": str(msg["Subject"]), "auto_submitted": str(msg["Auto-Submitted"])}
parts = list(msg.iter_parts())
status = parts[1]
blocks = status.get_payload()
if status.get_content_type() != "message/delivery-status":
    # message/global-delivery-status (RFC 6533) is not parsed into blocks.
    text = blocks[0].as_bytes().decode("utf-8") if isinstance(blocks, list) else blocks
    blocks = [email.message_from_string(b, policy=policy.default) for b in re.split(r"\r?\n\r?\n", text.strip())]
out["reporting"] = {k: str(v) for k, v in blocks[0].items()}
for b in blocks[1:]:
    out["per_rcpt"].append({k: str(v) for k, v in b.items()})
out["orig_headers"] = parts[2].get_payload() if isinstance(parts[2].get_payload(), str) else parts[2].as_string()
print(json.dumps(out))
`

func readDSN(t *testing.T, msg []byte) dsnReport {
	t.Helper()
	cmd := exec.Command(tools.Python(t), "-c", parseDSN)
	cmd.Stdin = bytes.NewReader(msg)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python email parser: %v\n%s\nmessage:\n%s", err, out, msg)
	}
	var r dsnReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return r
}

func TestPermanentFailureBounces(t *testing.T) {
	tb := newTestbed(t, bedOptions{})
	id := tb.enqueue(t, "alice@example.org", []string{"reject@remote.test", "ok@remote.test"}, testMessage("bounce"), false)
	tb.waitGone(t, id, 30*time.Second)
	if msgs := tb.mx1.Messages(); len(msgs) != 1 || msgs[0].To[0] != "ok@remote.test" {
		t.Fatalf("received %+v", msgs)
	}
	inbox := tb.inbox(t, tb.alice)
	if len(inbox) != 1 {
		t.Fatalf("%d messages in the sender's INBOX, want one notification", len(inbox))
	}
	if !bytes.HasPrefix(inbox[0], []byte("Return-Path: <>\r\n")) {
		t.Errorf("notification without the null Return-Path: %q", inbox[0][:60])
	}
	r := readDSN(t, inbox[0])
	if r.ContentType != "multipart/report" || r.ReportType != "delivery-status" ||
		strings.Join(r.Parts, ",") != "text/plain,message/delivery-status,text/rfc822-headers" {
		t.Errorf("structure: %+v", r)
	}
	if r.Reporting["Reporting-MTA"] != "dns; mail.example.org" || r.AutoSub != "auto-replied" {
		t.Errorf("per-message fields %v, Auto-Submitted %q", r.Reporting, r.AutoSub)
	}
	if len(r.PerRcpt) != 1 {
		t.Fatalf("per-recipient blocks: %+v", r.PerRcpt)
	}
	p := r.PerRcpt[0]
	if p["Final-Recipient"] != "rfc822; reject@remote.test" || p["Action"] != "failed" || p["Status"] != "5.1.1" ||
		!strings.HasPrefix(p["Diagnostic-Code"], "smtp; 550 5.1.1 No such user here") || !strings.HasPrefix(p["Remote-MTA"], "dns; mx1.remote.test") {
		t.Errorf("per-recipient fields: %v", p)
	}
	if !strings.Contains(r.OrigHeaders, "Message-ID: <bounce@example.org>") || strings.Contains(r.OrigHeaders, "Hello.") {
		t.Errorf("original headers part: %q", r.OrigHeaders)
	}
}

func TestNullMXBouncesAtOnce(t *testing.T) {
	tb := newTestbed(t, bedOptions{})
	id := tb.enqueue(t, "alice@example.org", []string{"x@nullmx.test"}, testMessage("nullmx"), false)
	tb.waitGone(t, id, 30*time.Second)
	inbox := tb.inbox(t, tb.alice)
	if len(inbox) != 1 {
		t.Fatalf("%d notifications", len(inbox))
	}
	p := readDSN(t, inbox[0]).PerRcpt[0]
	if p["Status"] != "5.1.10" || p["Action"] != "failed" || !strings.Contains(p["Diagnostic-Code"], "556 5.1.10") {
		t.Errorf("null MX notification: %v", p)
	}
	if _, ok := p["Remote-MTA"]; ok {
		t.Errorf("Remote-MTA for a failure without a remote host: %v", p)
	}
}

func TestGiveUp(t *testing.T) {
	tb := newTestbed(t, bedOptions{giveUp: 1500 * time.Millisecond, delayWarning: 300 * time.Millisecond})
	ctx := context.Background()
	tracking := store.NewTrackingID()
	id, err := tb.st.Enqueue(ctx, store.QueuedMessage{From: "alice@example.org", Recipients: []string{"temp999@remote.test"},
		Body: testMessage("giveup"), TrackingID: tracking, Domain: "example.org"})
	if err != nil {
		t.Fatal(err)
	}
	tb.w.Wake()
	start := time.Now()
	tb.waitGone(t, id, 30*time.Second)
	if d := time.Since(start); d < 1500*time.Millisecond {
		t.Errorf("gave up after %v, before the give-up time", d)
	}
	inbox := tb.inbox(t, tb.alice)
	if len(inbox) != 2 {
		t.Fatalf("%d notifications, want a delay warning and a failure", len(inbox))
	}
	warn, fail := readDSN(t, inbox[0]), readDSN(t, inbox[1])
	if p := warn.PerRcpt[0]; p["Action"] != "delayed" || p["Status"] != "4.3.0" || !strings.HasPrefix(warn.Subject, "Delayed Mail") {
		t.Errorf("delay warning: %+v", warn)
	}
	if p := fail.PerRcpt[0]; p["Action"] != "failed" || p["Status"] != "4.4.7" || !strings.Contains(p["Diagnostic-Code"], "451 4.3.0") {
		t.Errorf("give-up notification: %v", p)
	}
	// The events: queued, deferred at each attempt, then bounced with
	// the give-up as reason; a temporary failure suppresses nothing.
	st, err := tb.st.MessageStatus(ctx, "example.org", tracking, "")
	if err != nil || len(st.Recipients) != 1 {
		t.Fatalf("MessageStatus = %+v, %v", st, err)
	}
	if r := st.Recipients[0]; r.Status != store.EventBounced || !strings.HasPrefix(r.Reply, "gave up after ") || !strings.Contains(r.Reply, "in the queue: 451 4.3.0") {
		t.Errorf("status after the give-up: %+v", r)
	}
	evs, _ := tb.st.QueryEvents(ctx, store.EventFilter{Domain: "example.org", Types: []store.EventType{store.EventDeferred}})
	if len(evs) < 2 || evs[0].NextAttempt.IsZero() || !strings.HasPrefix(evs[0].Reply, "451 4.3.0") {
		t.Errorf("deferred events = %+v, want one per attempt before the give-up", evs)
	}
	if sup, _ := tb.st.Suppressions(ctx, "example.org", "", 0); len(sup) != 0 {
		t.Errorf("a give-up after temporary failures suppressed %+v", sup)
	}
}

func TestSMTPUTF8(t *testing.T) {
	tb := newTestbed(t, bedOptions{})
	body := []byte("From: ålice@example.org\r\nSubject: ünïcode\r\n\r\nHej.\r\n")
	// mx1 offers SMTPUTF8: delivered with the parameter and BODY=8BITMIME.
	id := tb.enqueue(t, "alice@example.org", []string{"üser@remote.test"}, body, true)
	tb.waitGone(t, id, 30*time.Second)
	if msgs := tb.mx1.Messages(); len(msgs) != 1 || !msgs[0].UTF8 || msgs[0].Body != "8BITMIME" || msgs[0].To[0] != "üser@remote.test" {
		t.Fatalf("mx1 received %+v", msgs)
	}
	// plain.test's host does not: the message bounces, unsent.
	id = tb.enqueue(t, "alice@example.org", []string{"üser@plain.test"}, body, true)
	tb.waitGone(t, id, 30*time.Second)
	if n := len(tb.mx2.Messages()); n != 0 {
		t.Fatalf("a message that needs SMTPUTF8 was sent to a server without it")
	}
	inbox := tb.inbox(t, tb.alice)
	if len(inbox) != 1 {
		t.Fatalf("%d notifications", len(inbox))
	}
	r := readDSN(t, inbox[0])
	p := r.PerRcpt[0]
	if r.Parts[1] != "message/global-delivery-status" || p["Status"] != "5.6.7" || !strings.Contains(p["Diagnostic-Code"], "SMTPUTF8") ||
		p["Final-Recipient"] != "utf-8; üser@plain.test" {
		t.Errorf("SMTPUTF8 notification: parts %v, %v", r.Parts, p)
	}
}

func TestNoNotificationLoops(t *testing.T) {
	tb := newTestbed(t, bedOptions{})
	// A bounce itself (null sender) that fails makes no notification.
	id := tb.enqueue(t, "", []string{"reject@remote.test"}, testMessage("null"), false)
	tb.waitGone(t, id, 30*time.Second)
	// A remote sender's notification is queued with the null sender and
	// goes to the sender's host (elsewhere.test: implicit MX).
	id = tb.enqueue(t, "bob@elsewhere.test", []string{"reject@remote.test"}, testMessage("remote-sender"), false)
	tb.waitGone(t, id, 30*time.Second)
	msgs := tb.mx2.Wait(t, 1, 30*time.Second)
	time.Sleep(300 * time.Millisecond) // a loop would show more
	msgs = tb.mx2.Messages()
	if len(msgs) != 1 || msgs[0].From != "" || msgs[0].To[0] != "bob@elsewhere.test" {
		t.Fatalf("elsewhere received %+v", msgs)
	}
	if r := readDSN(t, msgs[0].Data); r.PerRcpt[0]["Final-Recipient"] != "rfc822; reject@remote.test" {
		t.Errorf("remote notification: %+v", r)
	}
	if ms, _ := tb.st.QueuedMessages(context.Background(), 0); len(ms) != 0 {
		t.Errorf("queue not empty: %+v", ms)
	}
	if n := len(tb.inbox(t, tb.alice)); n != 0 {
		t.Errorf("%d notifications in a local INBOX", n)
	}
}

func TestReuseAndConcurrencyLimit(t *testing.T) {
	tb := newTestbed(t, bedOptions{perDest: 2, dataDelay: 20 * time.Millisecond})
	const n = 40
	var ids []int64
	for i := range n {
		ids = append(ids, tb.enqueue(t, "alice@example.org", []string{fmt.Sprintf("r%d@remote.test", i)}, testMessage(fmt.Sprint("m", i)), false))
	}
	for _, id := range ids {
		tb.waitGone(t, id, 60*time.Second)
	}
	if got := len(tb.mx1.Messages()); got != n {
		t.Fatalf("received %d, want %d", got, n)
	}
	if m := tb.mx1.MaxActive(); m > 2 {
		t.Errorf("%d connections at once to one destination, limit 2", m)
	}
	if c := tb.mx1.Conns(); c > 6 {
		t.Errorf("%d connections for %d messages: connections not reused", c, n)
	}
	t.Logf("%d messages over %d connections", n, tb.mx1.Conns())
}

func TestMXFallbackAndLoop(t *testing.T) {
	tb := newTestbed(t, bedOptions{})
	id := tb.enqueue(t, "alice@example.org", []string{"a@fallback.test", "b@loop.test", "c@nxdomain.test"}, testMessage("fallback"), false)
	tb.waitGone(t, id, 30*time.Second)
	if msgs := tb.mx1.Messages(); len(msgs) != 1 || msgs[0].To[0] != "a@fallback.test" {
		t.Fatalf("mx1 received %+v", msgs)
	}
	inbox := tb.inbox(t, tb.alice)
	if len(inbox) != 1 {
		t.Fatalf("%d notifications", len(inbox))
	}
	r := readDSN(t, inbox[0])
	got := map[string]string{}
	for _, p := range r.PerRcpt {
		got[p["Final-Recipient"]] = p["Status"]
	}
	if got["rfc822; b@loop.test"] != "5.4.6" || got["rfc822; c@nxdomain.test"] != "5.1.2" || len(got) != 2 {
		t.Errorf("notification statuses %v", got)
	}
}

// TestLeaseRenewedDuringLongAttempt: an attempt that outlasts the lease
// renews it, so a second worker on the same store does not claim the
// message meanwhile and deliver it again.
func TestLeaseRenewedDuringLongAttempt(t *testing.T) {
	o := bedOptions{dataDelay: 2 * time.Second, lease: 600 * time.Millisecond, attemptTimeout: time.Minute}
	tb := newTestbed(t, o)
	o.node = "node-2"
	tb.deliveredOnce(t, tb.worker(o, tb.st))
}

// TestLeaseRenewedAcrossNodes is TestLeaseRenewedDuringLongAttempt on
// PostgreSQL with two nodes: two Stores on one database, a worker each.
func TestLeaseRenewedAcrossNodes(t *testing.T) {
	o := bedOptions{dataDelay: 2 * time.Second, lease: 600 * time.Millisecond, attemptTimeout: time.Minute, pgDSN: pgtest.DSN(t)}
	tb := newTestbed(t, o)
	o.node = "node-2"
	tb.deliveredOnce(t, tb.worker(o, openPostgres(t, o.pgDSN)))
}

// deliveredOnce runs second beside tb.w, enqueues one message to mx1 and
// checks that it arrives exactly once.
func (tb *testbed) deliveredOnce(t *testing.T, second *Worker) {
	t.Helper()
	second.Start()
	id := tb.enqueue(t, "alice@example.org", []string{"someone@remote.test"}, testMessage("renewed"), false)
	second.Wake()
	// While the attempt runs the message names the node delivering it.
	poll.Until(t, 30*time.Second, "the message claimed", func() bool {
		m, err := tb.st.QueuedMessage(context.Background(), id)
		return err == nil && m.Lease != 0
	})
	if m, err := tb.st.QueuedMessage(context.Background(), id); err == nil && m.LeaseHolder != "node-1" && m.LeaseHolder != "node-2" {
		t.Errorf("claimed message's lease holder %q, want node-1 or node-2", m.LeaseHolder)
	}
	tb.waitGone(t, id, 30*time.Second)
	// Both workers finish whatever they are attempting: a second copy in
	// flight would arrive before Shutdown returns.
	for _, w := range []*Worker{tb.w, second} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := w.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		cancel()
	}
	if got := tb.mx1.Messages(); len(got) != 1 {
		t.Errorf("the receiver got %d copies, want 1 (the lease was taken over during the attempt)", len(got))
	}
}
