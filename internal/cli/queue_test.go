package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/daemon"
	"github.com/posthorn/posthorn/internal/dkim/dkimtest"
	"github.com/posthorn/posthorn/internal/store"
)

func TestQueueCommands(t *testing.T) {
	dir := t.TempDir()
	dd := "-data-dir=" + dir
	ctx := context.Background()
	st, err := daemon.OpenStore(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddDomain(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	alice, err := st.AddAccount(ctx, "alice@example.org", store.Credentials{PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for i, rcpts := range [][]string{{"a@remote.test", "b@remote.test"}, {"c@other.test"}, {"d@remote.test"}} {
		body := fmt.Sprintf("From: alice@example.org\r\nSubject: queued %d\r\n\r\nbody %d\r\n", i, i)
		id, err := st.Enqueue(ctx, store.QueuedMessage{From: "alice@example.org", Recipients: rcpts, Body: []byte(body),
			NextAttempt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	st.Close()
	id := func(i int) string { return fmt.Sprint(ids[i]) }

	run := func(wantCode int, want string, args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, "", append(args, dd)...)
		if code != wantCode || !strings.Contains(out+errOut, want) {
			t.Fatalf("posthorn %s: exit %d, stdout %q, stderr %q; want exit %d and %q", strings.Join(args, " "), code, out, errOut, wantCode, want)
		}
		return out
	}
	out := run(0, "a@remote.test,b@remote.test", "queue", "list")
	if n := strings.Count(out, "\n"); n != 3 {
		t.Errorf("queue list printed %d lines:\n%s", n, out)
	}
	out = run(0, "messages: 3", "queue", "summary")
	if !strings.Contains(out, "remote.test\t2 messages\t3 recipients") || !strings.Contains(out, "other.test\t1 messages\t1 recipients") ||
		!strings.Contains(out, "queued:   3") {
		t.Errorf("queue summary:\n%s", out)
	}
	out = run(0, "Subject: queued 1", "queue", "show", id(1))
	if !strings.Contains(out, "<c@other.test>\tpending") || strings.Contains(out, "body 1") {
		t.Errorf("queue show:\n%s", out)
	}
	run(1, "not found", "queue", "show", "999")
	run(2, "not a queue ID", "queue", "hold", "x")
	run(2, "name message IDs, or -all", "queue", "hold")

	run(0, "held "+id(0), "queue", "hold", id(0))
	run(0, "held:     1", "queue", "summary")
	run(0, "released "+id(0), "queue", "release", id(0))
	reopen := func() store.Store {
		st, err := daemon.OpenStore(ctx, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st = reopen()
	m, _ := st.QueuedMessage(ctx, ids[0])
	if m.Held || m.NextAttempt.After(time.Now()) {
		t.Errorf("after release: held %v, next attempt %v (want due now)", m.Held, m.NextAttempt)
	}
	st.Close()
	run(0, "retrying "+id(2), "queue", "retry", id(2))
	st = reopen()
	if m, _ := st.QueuedMessage(ctx, ids[2]); m.NextAttempt.After(time.Now()) {
		t.Errorf("after retry: next attempt %v", m.NextAttempt)
	}
	st.Close()

	run(0, "deleted "+id(2), "queue", "delete", id(2))
	run(0, "bounced and deleted "+id(1), "queue", "delete", "-bounce", id(1))
	run(1, "not found", "queue", "delete", id(1))
	out = run(0, "messages: 1", "queue", "summary")

	body := bounceIn(t, dir, alice)
	for _, want := range []string{"Final-Recipient: rfc822; c@other.test", "Status: 5.0.0", "deleted from the queue by the administrator", "Subject: queued 1"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("bounce lacks %q:\n%s", want, body)
		}
	}
}

// TestQueueLeaseHolder: queue list and show name the node holding a
// message's lease, and say when that lease ran out unfinished.
func TestQueueLeaseHolder(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := daemon.OpenStore(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var ids []int64
	for i := range 3 {
		id, err := st.Enqueue(ctx, store.QueuedMessage{From: "alice@example.org", Recipients: []string{fmt.Sprintf("r%d@remote.test", i)},
			Body: []byte("Subject: x\r\n\r\nx\r\n"), Queued: now.Add(-2 * time.Hour), NextAttempt: now.Add(time.Duration(i-120) * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	// node-8 claimed the first an hour ago and died (its lease ran out);
	// node-7 is delivering the second now; the third has no lease.
	if c, err := st.ClaimQueued(ctx, now.Add(-time.Hour-time.Minute), time.Minute, 1, "node-8"); err != nil || len(c) != 1 || c[0].ID != ids[0] {
		t.Fatalf("ClaimQueued = %+v, %v", c, err)
	}
	if c, err := st.ClaimQueued(ctx, now, time.Hour, 1, "node-7"); err != nil || len(c) != 1 || c[0].ID != ids[1] {
		t.Fatalf("ClaimQueued = %+v, %v", c, err)
	}
	st.Close()

	list := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, "", append(args, "-data-dir="+dir)...)
		if code != 0 {
			t.Fatalf("posthorn %s: exit %d, %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	out := list("queue", "list")
	for i, want := range []string{"\tqueued\texpired:node-8\t", "\tactive\tnode-7\t", "\tqueued\t-\t"} {
		if !strings.Contains(out, fmt.Sprintf("%d%s", ids[i], want)) {
			t.Errorf("queue list lacks %d%q:\n%s", ids[i], want, out)
		}
	}
	if out := list("queue", "show", fmt.Sprint(ids[0])); !strings.Contains(out, "Lease:        of node-8, ran out unfinished at ") {
		t.Errorf("queue show of the dead node's message:\n%s", out)
	}
	if out := list("queue", "show", fmt.Sprint(ids[1])); !strings.Contains(out, "Lease:        held by node-7 until "+now.Add(time.Hour).Local().Format("Mon, 02 Jan 2006 15:04")) {
		t.Errorf("queue show of the message in delivery:\n%s", out)
	}
	if out := list("queue", "show", fmt.Sprint(ids[2])); strings.Contains(out, "Lease:") {
		t.Errorf("queue show of a message without a lease:\n%s", out)
	}
}

// TestQueueDeleteBounceSigned: the bounce of queue delete -bounce is
// DKIM-signed, like the worker's, with the data directory's key for the
// configured host name's parent domain (mail.example.org → example.org,
// made by dkim keygen); dkimpy verifies both signatures.
// queuedForBounce makes a data directory (configuration conf, host name
// mail.example.org) with alice@example.org, the domains, and one message
// of alice's queued for later; its id.
func queuedForBounce(t *testing.T, domains ...string) (conf, data string, alice store.Account, id int64) {
	t.Helper()
	dir := t.TempDir()
	data = filepath.Join(dir, "data")
	conf = filepath.Join(dir, "posthorn.toml")
	if err := os.WriteFile(conf, []byte("hostname = \"mail.example.org\"\ndata_dir = \""+data+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := daemon.OpenStore(ctx, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, d := range append([]string{"example.org"}, domains...) {
		if err := st.AddDomain(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if alice, err = st.AddAccount(ctx, "alice@example.org", store.Credentials{PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	id, err = st.Enqueue(ctx, store.QueuedMessage{From: "alice@example.org", Recipients: []string{"c@other.test"},
		Body: []byte("From: alice@example.org\r\nSubject: to bounce\r\n\r\nbody\r\n"), NextAttempt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return conf, data, alice, id
}

// bounceIn returns the one message in alice's INBOX.
func bounceIn(t *testing.T, data string, alice store.Account) []byte {
	t.Helper()
	ctx := context.Background()
	st, err := daemon.OpenStore(ctx, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	mb, _ := st.Mailbox(ctx, alice.ID, store.Inbox)
	msgs, _ := st.Messages(ctx, mb.ID)
	if len(msgs) != 1 {
		t.Fatalf("%d messages in the sender's INBOX", len(msgs))
	}
	body, _ := st.MessageBody(ctx, msgs[0].ID)
	return body
}

func TestQueueDeleteBounceSigned(t *testing.T) {
	py := dkimtest.Python(t)
	conf, data, alice, id := queuedForBounce(t)
	if code, out, errOut := runCLI(t, "", "dkim", "keygen", "-config", conf, "example.org"); code != 0 {
		t.Fatalf("dkim keygen: %s%s", out, errOut)
	}
	if code, out, errOut := runCLI(t, "", "queue", "delete", "-config", conf, "-bounce", fmt.Sprint(id)); code != 0 || !strings.Contains(out, "bounced and deleted") {
		t.Fatalf("queue delete -bounce: exit %d, %s%s", code, out, errOut)
	}
	body := bounceIn(t, data, alice)
	signed, ok := bytes.CutPrefix(body, []byte("Return-Path: <>\r\n"))
	if !ok || !bytes.HasPrefix(signed, []byte("DKIM-Signature:")) || bytes.Count(signed, []byte("DKIM-Signature:")) != 2 ||
		bytes.Count(signed, []byte(" d=example.org;")) != 2 {
		t.Fatalf("bounce not signed twice by example.org:\n%s", body)
	}
	records := dkimtest.Records(t, daemon.DKIMKeys(data))
	if got := dkimtest.Verify(t, py, records, []string{string(signed)}); !slices.Equal(got[0], []bool{true, true}) {
		t.Errorf("dkimpy verdicts %v, want [true true]", got[0])
	}
}

// Keys, but none for the host name's domain or its parents: the bounce
// goes unsigned, and stderr says so.
func TestQueueDeleteBounceUnsignedWarns(t *testing.T) {
	conf, data, alice, id := queuedForBounce(t, "example.net")
	if code, out, errOut := runCLI(t, "", "dkim", "keygen", "-config", conf, "example.net"); code != 0 {
		t.Fatalf("dkim keygen: %s%s", out, errOut)
	}
	code, out, errOut := runCLI(t, "", "queue", "delete", "-config", conf, "-bounce", fmt.Sprint(id))
	if code != 0 || !strings.Contains(out, "bounced and deleted") {
		t.Fatalf("queue delete -bounce: exit %d, %s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "unsigned") || !strings.Contains(errOut, "example.org") {
		t.Errorf("stderr does not say the bounce went unsigned: %q", errOut)
	}
	if body := bounceIn(t, data, alice); bytes.Contains(body, []byte("DKIM-Signature:")) {
		t.Errorf("bounce signed without a key for example.org:\n%s", body)
	}
}
