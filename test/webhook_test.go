package test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/delivery/deliverytest"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/internal/store"
)

// hookEvent is the part of a webhook body the test reads.
type hookEvent struct {
	ID, Type, Domain, Message, Recipient, Reply string
}

// hookReceiver is an application's webhook endpoint on loopback. It
// checks each signature itself (HMAC-SHA256 over timestamp "." body, not
// with package webhook). While down it answers 503; while up it answers
// 500 to the first two requests of each event id, then 204. accepted holds
// each event once (deduplicated by id, as receivers must).
type hookReceiver struct {
	t      *testing.T
	url    string
	secret string

	mu       sync.Mutex
	down     bool
	seen     map[string]int // requests per event id, ever
	upTries  map[string]int // requests per event id while up
	acks     map[string]int // 2xx answers per event id
	accepted map[string]hookEvent
	order    []string // ids in order of acceptance
	badSigs  int
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{t: t, down: true, seen: map[string]int{}, upTries: map[string]int{}, acks: map[string]int{}, accepted: map[string]hookEvent{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: r}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	r.url = "http://" + ln.Addr().String() + "/events"
	return r
}

func (r *hookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	ts := req.Header.Get("Posthorn-Timestamp")
	mac := hmac.New(sha256.New, []byte(r.secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	if !hmac.Equal([]byte(req.Header.Get("Posthorn-Signature")), []byte("v1="+hex.EncodeToString(mac.Sum(nil)))) {
		r.badSigs++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var ev hookEvent
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" || req.Header.Get("Posthorn-Event-Id") != ev.ID {
		r.t.Errorf("webhook body %q (event id header %q): %v", body, req.Header.Get("Posthorn-Event-Id"), err)
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	r.seen[ev.ID]++
	if r.down {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	r.upTries[ev.ID]++
	if r.upTries[ev.ID] <= 2 {
		http.Error(w, "try again", http.StatusInternalServerError)
		return
	}
	r.acks[ev.ID]++
	if _, dup := r.accepted[ev.ID]; !dup {
		r.accepted[ev.ID] = ev
		r.order = append(r.order, ev.ID)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (r *hookReceiver) counts() (seen, accepted int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen), len(r.accepted)
}

// TestWebhookEvents: tracked messages go through the real queue to a
// test MTA that delivers one, defers one and rejects one with 550 5.1.1.
// The endpoint, added with the CLI, is down at first; the server is
// killed with SIGKILL with every event's delivery pending, restarted, and
// the receiver (500 twice per event, then 204) gets each event exactly
// once after deduplication, signed. The hard bounce put the recipient on
// the suppression list, so the next send to it through the sendmail
// socket is refused and recorded as a suppressed event.
func TestWebhookEvents(t *testing.T) {
	n := newOutboundNet(t)
	sink := deliverytest.Start(t, n.sink, n.port, deliverytest.Options{})
	zones := dnstest.Start(t, dnstest.Zone{Origin: "sink.test", Records: "@ MX 10 mx\nmx A " + n.sink})
	// A short directory: Unix socket paths are limited to 107 bytes.
	dir, err := os.MkdirTemp("", "ph-wh-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data := filepath.Join(dir, "data")
	sock := filepath.Join(dir, "sendmail.sock")
	addAccount(t, data, "alice@a.test", "alice-passw0rd") // gets the bounce's DSN

	rcv := newHookReceiver(t)
	out, err := runAt(t, nil, data, "webhook add", "a.test", rcv.url)
	if err != nil {
		t.Fatalf("webhook add: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`secret: (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("webhook add printed no secret:\n%s", out)
	}
	rcv.secret = m[1]

	// Three tracked messages, as the HTTP API would queue them.
	ctx := context.Background()
	st := openDataStore(t, data)
	rcpts := []string{"ok1@sink.test", "temp1x@sink.test", "reject1@sink.test"}
	tracking := map[string]string{} // recipient -> tracking id
	for _, r := range rcpts {
		id := store.NewTrackingID()
		tracking[r] = id
		body := "From: alice@a.test\r\nTo: " + r + "\r\nSubject: hooks\r\n\r\nhello\r\n"
		if _, err := st.Enqueue(ctx, store.QueuedMessage{From: "alice@a.test", Recipients: []string{r}, Body: []byte(body),
			TrackingID: id, Domain: "a.test"}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	smtpAddr := fmt.Sprintf("%s:%d", n.a, deliverytest.FreePort(t, n.a))
	cfg := serveConfigAt(t, "mail.a.test", data, "smtp", smtpAddr, zones.Addr()) +
		fmt.Sprintf("[sendmail]\nsocket = %q\n[delivery]\nport = %d\nretry_min = \"1s\"\nretry_max = \"2s\"\n", sock, n.port) +
		"[webhooks]\nretry_min = \"200ms\"\nretry_max = \"500ms\"\n"
	srv := startServe(t, dir, cfg, smtpAddr)

	// 3 queued, 1 deferred, 2 delivered, 1 bounced: 7 events, each posted
	// at least once to the endpoint that is down.
	const total = 7
	waitFor(t, 2*time.Minute, "every event posted once (and refused)", func() bool {
		seen, _ := rcv.counts()
		return seen == total
	}, srv)
	if err := srv.stop(syscall.SIGKILL); err == nil {
		t.Log("server killed")
	}
	rcv.mu.Lock()
	rcv.down = false
	rcv.mu.Unlock()

	srv = startServe(t, dir, cfg, smtpAddr)
	waitFor(t, 2*time.Minute, "every event accepted after the restart", func() bool {
		_, acc := rcv.counts()
		return acc == total
	}, srv)

	got := map[string]string{} // "type recipient" -> reply
	rcv.mu.Lock()
	for id, ev := range rcv.accepted {
		if ev.Domain != "a.test" || ev.Message != tracking[ev.Recipient] {
			t.Errorf("event %+v: want domain a.test and message %s", ev, tracking[ev.Recipient])
		}
		if rcv.acks[id] != 1 || rcv.upTries[id] != 3 {
			t.Errorf("event %s: %d acknowledged posts after %d tries, want 1 after 3 (500, 500, 204)", id, rcv.acks[id], rcv.upTries[id])
		}
		got[ev.Type+" "+ev.Recipient] = ev.Reply
	}
	bad := rcv.badSigs
	rcv.mu.Unlock()
	if bad != 0 {
		t.Errorf("%d posts with a bad signature", bad)
	}
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"bounced reject1@sink.test", "deferred temp1x@sink.test", "delivered ok1@sink.test", "delivered temp1x@sink.test",
		"queued ok1@sink.test", "queued reject1@sink.test", "queued temp1x@sink.test"}
	if !slices.Equal(keys, want) {
		t.Fatalf("events %q, want %q", keys, want)
	}
	if r := got["bounced reject1@sink.test"]; !strings.HasPrefix(r, "550 5.1.1") {
		t.Errorf("bounce reason %q", r)
	}
	if r := got["deferred temp1x@sink.test"]; !strings.HasPrefix(r, "451") {
		t.Errorf("deferral reply %q", r)
	}
	if r := got["delivered ok1@sink.test"]; !strings.HasPrefix(r, "250") {
		t.Errorf("delivery reply %q", r)
	}
	if len(sink.Messages()) != 2 {
		t.Errorf("the sink got %d messages, want 2", len(sink.Messages()))
	}

	// The hard bounce is on the suppression list ...
	out, err = runAt(t, nil, data, "suppression list", "a.test")
	if err != nil || !strings.HasPrefix(out, "reject1@sink.test ") || !strings.Contains(out, "hard bounce: 550 5.1.1") {
		t.Errorf("suppression list: %v\n%s", err, out)
	}
	// ... so the next send to it is refused, and the refusal is an event.
	cmd := exec.Command(binary, "sendmail", "-C", filepath.Join(dir, "posthorn.toml"), "-f", "alice@a.test", "reject1@sink.test")
	cmd.Stdin = strings.NewReader("From: alice@a.test\nSubject: again\n\nhello again\n")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("sendmail to a suppressed address succeeded:\n%s", out)
	} else if !strings.Contains(string(out), "suppressed") {
		t.Errorf("sendmail's refusal does not say why: %v\n%s", err, out)
	}
	waitFor(t, time.Minute, "the suppressed event", func() bool {
		_, acc := rcv.counts()
		return acc == total+1
	}, srv)
	rcv.mu.Lock()
	last := rcv.accepted[rcv.order[len(rcv.order)-1]]
	rcv.mu.Unlock()
	if last.Type != "suppressed" || last.Recipient != "reject1@sink.test" || !strings.Contains(last.Reply, "5.1.1") {
		t.Errorf("last event %+v, want suppressed reject1@sink.test", last)
	}
	if len(sink.Messages()) != 2 {
		t.Errorf("the suppressed message reached the sink")
	}
	if err := srv.stop(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM: %v", err)
	}
}
