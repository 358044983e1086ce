package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/sqlite"
	"github.com/posthorn/posthorn/internal/webhook"
)

func openStore(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// receiver is an application's webhook endpoint: it checks every
// request's signature, fails the first failures requests of each event,
// then accepts; accepted holds each event once (deduplicated by id, as a
// receiver must), attempts counts every request per event id.
type receiver struct {
	t        *testing.T
	secret   string
	failures int
	srv      *httptest.Server

	mu       sync.Mutex
	secretOf map[string]string // URL path -> secret, when several endpoints share it
	attempts map[string]int
	accepted map[string]map[string]any
	badSigs  int
	got      chan string // event ids accepted, first time only
}

func newReceiver(t *testing.T, failures int) *receiver {
	r := &receiver{t: t, failures: failures, attempts: map[string]int{}, accepted: map[string]map[string]any{}, got: make(chan string, 100)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := webhook.Verify(r.secret, req.Header.Get(webhook.HeaderTimestamp), req.Header.Get(webhook.HeaderSignature), body, time.Now(), 5*time.Minute); err != nil {
		r.badSigs++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var ev map[string]any
	if err := json.Unmarshal(body, &ev); err != nil {
		r.t.Errorf("webhook body is not JSON: %v: %q", err, body)
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	id, _ := ev["id"].(string)
	if id == "" || req.Header.Get(webhook.HeaderEventID) != id || req.Header.Get("Content-Type") != "application/json" {
		r.t.Errorf("request id %q, header %q, content type %q", id, req.Header.Get(webhook.HeaderEventID), req.Header.Get("Content-Type"))
	}
	r.attempts[id]++
	if r.attempts[id] <= r.failures {
		http.Error(w, "not now", http.StatusInternalServerError)
		return
	}
	if _, dup := r.accepted[id]; !dup {
		r.accepted[id] = ev
		r.got <- id
	}
	w.WriteHeader(http.StatusNoContent)
}

// wait waits for n first-time acceptances, with a generous bound.
func (r *receiver) wait(n int) {
	r.t.Helper()
	deadline := time.After(30 * time.Second)
	for range n {
		select {
		case <-r.got:
		case <-deadline:
			r.t.Fatalf("timed out waiting for %d webhook events", n)
		}
	}
}

// hookStore opens a fresh store with the domain example.org and one
// enabled endpoint (returned) posting to a new receiver at path, which fails the
// first failures requests with 500.
func hookStore(t *testing.T, failures int, path string) (*sqlite.Store, *receiver, store.WebhookEndpoint) {
	t.Helper()
	s := openStore(t, filepath.Join(t.TempDir(), "mail.db"))
	if err := s.AddDomain(t.Context(), "example.org"); err != nil {
		t.Fatal(err)
	}
	r := newReceiver(t, failures)
	ep, err := s.AddWebhookEndpoint(t.Context(), store.WebhookEndpoint{Domain: "example.org", URL: r.srv.URL + path, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	r.secret = ep.Secret
	return s, r, ep
}

func startWorker(t *testing.T, s store.Events, opts webhook.Options) *webhook.Worker {
	opts.Store = s
	if opts.RetryMin == 0 {
		opts.RetryMin, opts.RetryMax = 20*time.Millisecond, 100*time.Millisecond
	}
	if opts.Poll == 0 {
		opts.Poll = 20 * time.Millisecond
	}
	w := webhook.New(opts)
	w.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		w.Shutdown(ctx)
	})
	return w
}

func TestRetriesThenDeliversOnce(t *testing.T) {
	s, r, ep := hookStore(t, 2, "/hook") // 500 twice, then 200
	ctx := t.Context()
	tid := store.NewTrackingID()
	evs, err := s.RecordEvents(ctx, []store.Event{
		{Type: store.EventDelivered, Domain: "example.org", Message: tid, Recipient: "a@remote.test", Reply: "250 ok", Data: json.RawMessage(`{"tags":["t"]}`)},
		{Type: store.EventBounced, Domain: "example.org", Message: tid, Recipient: "b@remote.test", Reply: "550 5.1.1 unknown"},
		{Type: store.EventDeferred, Domain: "example.org", Message: tid, Recipient: "c@remote.test", Reply: "451 later", NextAttempt: time.Now().Add(time.Hour)},
	})
	if err != nil {
		t.Fatal(err)
	}
	startWorker(t, s, webhook.Options{})
	r.wait(3)

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.badSigs != 0 {
		t.Errorf("%d requests with a bad signature", r.badSigs)
	}
	for _, e := range evs {
		got, ok := r.accepted[e.ID]
		if !ok {
			t.Errorf("event %s never accepted", e.ID)
			continue
		}
		if r.attempts[e.ID] != 3 {
			t.Errorf("event %s: %d requests, want 3 (500, 500, 200)", e.ID, r.attempts[e.ID])
		}
		if got["type"] != string(e.Type) || got["recipient"] != e.Recipient || got["message"] != tid || got["domain"] != "example.org" || got["reply"] != e.Reply {
			t.Errorf("payload %v for event %+v", got, e)
		}
	}
	if d, _ := r.accepted[evs[0].ID]["data"].(map[string]any); d == nil || d["tags"] == nil {
		t.Errorf("data not passed through: %v", r.accepted[evs[0].ID])
	}
	if _, ok := r.accepted[evs[2].ID]["next_attempt"].(string); !ok {
		t.Errorf("deferred event without next_attempt: %v", r.accepted[evs[2].ID])
	}
	// The store agrees: all delivered after three attempts, with the last
	// error of a failed one kept.
	deadline := time.Now().Add(30 * time.Second)
	for {
		hist, err := s.WebhookDeliveries(ctx, ep.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, d := range hist {
			if d.State == store.WebhookDelivered && d.Attempts == 3 && d.LastError == "" {
				done++
			}
		}
		if done == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries = %+v", hist)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestGivesUp(t *testing.T) {
	s, r, ep := hookStore(t, 1<<30, "") // never accepts
	ctx := t.Context()
	if _, err := s.RecordEvents(ctx, []store.Event{{Type: store.EventBounced, Domain: "example.org"}}); err != nil {
		t.Fatal(err)
	}
	startWorker(t, s, webhook.Options{GiveUp: 300 * time.Millisecond})
	deadline := time.Now().Add(30 * time.Second)
	for {
		hist, err := s.WebhookDeliveries(ctx, ep.ID, 0)
		if err != nil || len(hist) != 1 {
			t.Fatalf("deliveries = %+v, %v", hist, err)
		}
		if d := hist[0]; d.State == store.WebhookFailed {
			if d.Attempts < 2 || d.LastError != "HTTP 500: not now" || d.Finished.IsZero() {
				t.Errorf("given-up delivery = %+v", d)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not given up: %+v", hist[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
	// No more requests after giving up.
	r.mu.Lock()
	n := len(r.attempts)
	var before int
	for _, c := range r.attempts {
		before = c
	}
	r.mu.Unlock()
	time.Sleep(200 * time.Millisecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.attempts {
		if n != 1 || c != before {
			t.Errorf("requests went on after giving up: %d then %d", before, c)
		}
	}
}

func TestSurvivesRestartAndLostLease(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mail.db")
	s := openStore(t, path)
	ctx := t.Context()
	s.AddDomain(ctx, "example.org")
	r := newReceiver(t, 0)
	ep, err := s.AddWebhookEndpoint(ctx, store.WebhookEndpoint{Domain: "example.org", URL: r.srv.URL, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	r.secret = ep.Secret
	evs, err := s.RecordEvents(ctx, []store.Event{{Type: store.EventInbound, Domain: "example.org"}, {Type: store.EventDelivered, Domain: "example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	// A worker claims the first delivery and dies before recording
	// anything; the store closes.
	claimed, err := s.ClaimWebhookDeliveries(ctx, time.Now(), time.Second, 1)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim = %+v, %v", claimed, err)
	}
	s.Close()

	// After a restart both events go out, the claimed one once its dead
	// lease has expired.
	s2 := openStore(t, path)
	startWorker(t, s2, webhook.Options{})
	r.wait(2)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range evs {
		if _, ok := r.accepted[e.ID]; !ok || r.attempts[e.ID] != 1 {
			t.Errorf("event %s: accepted %v after %d requests, want once", e.ID, ok, r.attempts[e.ID])
		}
	}
}

func TestShutdownMidPost(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "mail.db"))
	ctx := t.Context()
	s.AddDomain(ctx, "example.org")
	var hung atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		hung.Add(1)
		select {
		case <-req.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	ep, _ := s.AddWebhookEndpoint(ctx, store.WebhookEndpoint{Domain: "example.org", URL: srv.URL, Enabled: true})
	s.RecordEvents(ctx, []store.Event{{Type: store.EventInbound, Domain: "example.org"}})
	w := webhook.New(webhook.Options{Store: s, Poll: 20 * time.Millisecond})
	w.Start()
	for deadline := time.Now().Add(30 * time.Second); hung.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the worker never posted")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := w.Shutdown(cctx); err == nil {
		t.Error("Shutdown with a POST hanging returned nil, want the deadline's error")
	}
	// The interrupted POST is due again at once, not after a backoff.
	hist, err := s.WebhookDeliveries(ctx, ep.ID, 0)
	if err != nil || len(hist) != 1 || hist[0].State != store.WebhookPending || hist[0].Lease != 0 || time.Until(hist[0].NextAttempt) > time.Second {
		t.Errorf("after Shutdown: %+v, %v", hist, err)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "mail.db"))
	ctx := t.Context()
	s.AddDomain(ctx, "example.org")
	var cur, peak, total atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(30 * time.Millisecond)
		cur.Add(-1)
		total.Add(1)
	}))
	defer srv.Close()
	if _, err := s.AddWebhookEndpoint(ctx, store.WebhookEndpoint{Domain: "example.org", URL: srv.URL, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	var evs []store.Event
	for range 12 {
		evs = append(evs, store.Event{Type: store.EventDelivered, Domain: "example.org"})
	}
	if _, err := s.RecordEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	startWorker(t, s, webhook.Options{Concurrency: 3})
	deadline := time.Now().Add(30 * time.Second)
	for total.Load() < 12 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 12 delivered", total.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if p := peak.Load(); p > 3 || p < 2 {
		t.Errorf("peak concurrency %d, want at most 3 (and some parallelism)", p)
	}
}

func TestRedirectIsAFailure(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "mail.db"))
	ctx := t.Context()
	s.AddDomain(ctx, "example.org")
	var followed atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/elsewhere" {
			followed.Store(true)
			return
		}
		http.Redirect(w, req, "/elsewhere", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	ep, _ := s.AddWebhookEndpoint(ctx, store.WebhookEndpoint{Domain: "example.org", URL: srv.URL + "/hook", Enabled: true})
	s.RecordEvents(ctx, []store.Event{{Type: store.EventDelivered, Domain: "example.org"}})
	startWorker(t, s, webhook.Options{RetryMin: time.Hour})
	deadline := time.Now().Add(30 * time.Second)
	for {
		hist, _ := s.WebhookDeliveries(ctx, ep.ID, 0)
		if len(hist) == 1 && hist[0].Attempts == 1 {
			if hist[0].State != store.WebhookPending || hist[0].LastError == "" {
				t.Errorf("after a redirect: %+v", hist[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries = %+v", hist)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if followed.Load() {
		t.Error("the redirect was followed")
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"id":"ev_1"}`)
	now := time.Unix(1767225600, 0)
	sig := webhook.Sign("whsec_x", now.Unix(), body)
	ts := "1767225600"
	if err := webhook.Verify("whsec_x", ts, sig, body, now, time.Minute); err != nil {
		t.Errorf("Verify of a good signature: %v", err)
	}
	if err := webhook.Verify("whsec_x", ts, "v1=00,"+sig, body, now, time.Minute); err != nil {
		t.Errorf("Verify with a rotated secret's signature first: %v", err)
	}
	for name, c := range map[string]struct {
		secret, ts, sig string
		body            []byte
		want            error
	}{
		"wrong secret":      {"whsec_y", ts, sig, body, webhook.ErrBadSignature},
		"body changed":      {"whsec_x", ts, sig, []byte(`{"id":"ev_2"}`), webhook.ErrBadSignature},
		"timestamp changed": {"whsec_x", "1767225601", sig, body, webhook.ErrBadSignature},
		"stale":             {"whsec_x", "1767225000", webhook.Sign("whsec_x", 1767225000, body), body, webhook.ErrStale},
		"no timestamp":      {"whsec_x", "", sig, body, webhook.ErrBadSignature},
	} {
		if err := webhook.Verify(c.secret, c.ts, c.sig, c.body, now, time.Minute); err != c.want {
			t.Errorf("%s: Verify = %v, want %v", name, err, c.want)
		}
	}
	// The documented scheme, computed independently.
	if sig != "v1="+hmacHex("whsec_x", "1767225600."+string(body)) {
		t.Errorf("Sign = %s", sig)
	}
}

func hmacHex(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}
