package daemon

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/posthorn/posthorn/internal/certs"
	"github.com/posthorn/posthorn/internal/config"
	"github.com/posthorn/posthorn/internal/delivery/deliverytest"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/internal/metrics/metricstest"
	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/testutil/syncbuf"
	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// pyClients is one run of Python's smtplib, imaplib and poplib against
// the daemon: a failed then a good AUTH on submission and one message to
// three remote recipients, a failed IMAP login, one POP3 session.
const pyClients = `
import imaplib, poplib, smtplib, ssl, sys
host, sub, imaps, pop3s, cafile = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=cafile)
s = smtplib.SMTP(host, int(sub), local_hostname='client.test', timeout=30)
s.starttls(context=ctx)
s.ehlo('client.test')
s.user, s.password = 'user@example.org', 'wrong-password'
try:
    s.auth('PLAIN', s.auth_plain)  # one mechanism: login() would try LOGIN too
    sys.exit('submission login with a wrong password succeeded')
except smtplib.SMTPAuthenticationError:
    pass
s.password = 'a-long-password'
s.auth('PLAIN', s.auth_plain)
s.sendmail('user@example.org', ['ok@remote.test', 'reject1@remote.test', 'temp1x@remote.test'],
    b'From: user@example.org\r\nTo: ok@remote.test\r\nSubject: metrics\r\n\r\nhello\r\n')
s.quit()
m = imaplib.IMAP4_SSL(host, int(imaps), ssl_context=ctx, timeout=30)
try:
    m.login('user@example.org', 'wrong-password')
    sys.exit('IMAP login with a wrong password succeeded')
except imaplib.IMAP4.error:
    pass
m.logout()
p = poplib.POP3_SSL(host, int(pop3s), context=ctx, timeout=30)
p.user('user@example.org')
p.pass_('a-long-password')
p.stat()
p.quit()
print('clients done')
`

// TestMetrics drives real traffic through a daemon (MX mail accepted and
// refused, the sendmail socket, submission with a failed login, a failed
// IMAP login, a POP3 session, API sends accepted, refused and with a bad
// key, outbound delivery that is delivered, deferred then delivered, and
// bounced) and checks over the http listener that the scraped counters
// moved by exactly that; then that /readyz turns 503 once Shutdown begins
// and stays reachable while a transaction in progress finishes.
func TestMetrics(t *testing.T) {
	py := tools.Look(t, "python3")
	dir := t.TempDir()
	files, err := certs.EnsureDev(filepath.Join(dir, "tls"), []string{"mx.example.org"}, []net.IP{net.ParseIP("127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	zones := dnstest.Start(t, dnstest.Zone{Origin: "remote.test", Records: "@ A 127.0.0.1"})
	sinkPort := deliverytest.FreePort(t, "127.0.0.1")
	sink := deliverytest.Start(t, "127.0.0.1", sinkPort, deliverytest.Options{})
	cfg, err := config.Parse("test.toml", []byte(fmt.Sprintf(`hostname = "mx.example.org"
domains = ["example.org"]
data_dir = %q
[[listeners]]
role = "smtp"
address = "127.0.0.1:0"
[[listeners]]
role = "submission"
address = "127.0.0.1:0"
[[listeners]]
role = "imaps"
address = "127.0.0.1:0"
[[listeners]]
role = "pop3s"
address = "127.0.0.1:0"
[[listeners]]
role = "http"
address = "127.0.0.1:0"
[http]
plaintext = true
[sendmail]
socket = %q
[tls]
cert_file = %q
key_file = %q
[auth]
failure_delay = "10ms"
max_failure_delay = "20ms"
[dns]
servers = [%q]
[delivery]
retry_min = "1s"
retry_max = "1s"
[[delivery.routes]]
domain = "remote.test"
host = %q
`, filepath.Join(dir, "data"), filepath.Join(dir, "sendmail.sock"), files.CertFile, files.KeyFile, zones.Addr(), sink.Addr)))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncbuf.Buffer{}
	logger, err := NewLogger(logs, "debug", "text")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Start(context.Background(), cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s", logs)
		}
	}()
	shutdown := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		d.Shutdown(ctx)
	}
	t.Cleanup(shutdown)
	ctx := context.Background()
	token := addUserAndKey(t, d)
	api := "http://" + d.Addrs()["http"].String()
	ops := struct{ URL string }{api} // the operations endpoints on the http listener
	if code, body := httpGet(t, ops.URL+"/readyz"); code != 200 || body != "ok\n" {
		t.Fatalf("/readyz of a running daemon = %d %q", code, body)
	}
	if code, body := httpGet(t, ops.URL+"/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz = %d %q", code, body)
	}
	before := metricstest.Scrape(t, ops.URL+"/metrics")

	// A held message shows in the queue gauge, read from the store.
	held, err := d.Store().Enqueue(ctx, store.QueuedMessage{From: "user@example.org", Recipients: []string{"later@remote.test"}, Body: []byte("x"),
		NextAttempt: time.Now().Add(time.Hour)}) // not claimed before it is held
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Store().HoldQueued(ctx, held, true); err != nil {
		t.Fatal(err)
	}

	// MX: one message accepted, one refused at RCPT (unknown user).
	mx := d.Addrs()["smtp"].String()
	if err := sendPlain(mx, "user@example.org"); err != nil {
		t.Fatalf("MX delivery: %v", err)
	}
	if err := sendPlain(mx, "nobody@example.org"); err == nil || !strings.Contains(err.Error(), "550") {
		t.Fatalf("MX delivery to an unknown user: %v, want 550", err)
	}
	// The local submission socket (posthorn sendmail): one message to a
	// local account.
	uc, err := net.DialTimeout("unix", d.SendmailSocket(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := sendOn(smtp.NewClient(uc), "user@example.org", "user@example.org"); err != nil {
		t.Fatalf("sendmail socket: %v", err)
	}

	port := func(role string) string { return strconv.Itoa(d.Addrs()[role].(*net.TCPAddr).Port) }
	tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(tctx, py, "-c", pyClients, "127.0.0.1", port("submission"), port("imaps"), port("pop3s"), files.CAFile).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "clients done") {
		t.Fatalf("python clients: %v\n%s", err, out)
	}
	// The HTTP API: one message sent, one refused (no recipient), one
	// request with a key that is not ours.
	post := func(key, body string) int {
		req, err := http.NewRequest("POST", api+"/api/v1/messages", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(token, `{"from": "user@example.org", "to": ["api@remote.test"], "subject": "api", "text": "hi"}`); code != 202 {
		t.Fatalf("API send = %d, want 202", code)
	}
	if code := post(token, `{"from": "user@example.org", "subject": "api", "text": "hi"}`); code != 400 {
		t.Fatalf("API send without recipients = %d, want 400", code)
	}
	bad := token[:len(token)-4] + "xxxx"
	if code := post(bad, `{"from": "user@example.org", "to": ["api@remote.test"], "text": "hi"}`); code != 401 {
		t.Fatalf("API send with a bad key = %d, want 401", code)
	}

	// ok@ on the first attempt, temp1x@ on the second; reject1@ bounces;
	// api@ from the API.
	sink.Wait(t, 3, time.Minute)

	want := []struct {
		name   string
		labels []string
		delta  float64
	}{
		{"posthorn_messages_received_total", []string{"listener", "smtp", "result", "accepted"}, 1},
		{"posthorn_messages_received_total", []string{"listener", "smtp", "result", "rejected_permanent"}, 1},
		{"posthorn_messages_received_total", []string{"listener", "smtp", "result", "rejected_temporary"}, 0},
		{"posthorn_messages_received_total", []string{"listener", "submission", "result", "accepted"}, 1},
		{"posthorn_messages_received_total", []string{"listener", "submission", "result", "rejected_permanent"}, 0},
		{"posthorn_messages_received_total", []string{"listener", "api", "result", "accepted"}, 1},
		{"posthorn_messages_received_total", []string{"listener", "sendmail", "result", "accepted"}, 1},
		{"posthorn_connections_total", []string{"protocol", "sendmail", "result", "accepted"}, 1},
		{"posthorn_messages_received_total", []string{"listener", "api", "result", "rejected_permanent"}, 1},
		{"posthorn_connections_total", []string{"protocol", "smtp", "result", "accepted"}, 2},
		{"posthorn_connections_total", []string{"protocol", "submission", "result", "accepted"}, 1},
		{"posthorn_connections_total", []string{"protocol", "imaps", "result", "accepted"}, 1},
		{"posthorn_connections_total", []string{"protocol", "pop3s", "result", "accepted"}, 1},
		{"posthorn_connections_total", []string{"result", "refused"}, 0},
		{"posthorn_auth_failures_total", []string{"protocol", "smtp", "reason", "credentials"}, 1},
		{"posthorn_auth_failures_total", []string{"protocol", "imap", "reason", "credentials"}, 1},
		{"posthorn_auth_failures_total", []string{"protocol", "http", "reason", "credentials"}, 1},
		{"posthorn_auth_failures_total", []string{"protocol", "pop3"}, 0},
		{"posthorn_delivery_recipients_total", []string{"result", "delivered"}, 3},
		{"posthorn_delivery_recipients_total", []string{"result", "deferred"}, 1},
		{"posthorn_delivery_recipients_total", []string{"result", "bounced"}, 1},
		{"posthorn_delivery_latency_seconds", nil, 3},
	}
	var after metricstest.Snapshot
	// The worker counts after recording the attempt, a moment after the
	// sink has the message; connections are released after the clients
	// hang up; and one scrape is not a snapshot (the queue gauge may be
	// read before an attempt ends and the counters after). Wait (bounded)
	// for the counts to settle.
	deadline := time.Now().Add(time.Minute)
	for {
		after = metricstest.Scrape(t, ops.URL+"/metrics")
		settled := after.Value("posthorn_delivery_recipients_total", "result", "delivered") >= 3 &&
			after.Value("posthorn_connections_open")-after.Value("posthorn_connections_open", "protocol", "http") == 0 &&
			after.Value("posthorn_queue_messages", "state", "deferred") == 0
		if settled || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, w := range want {
		if got := after.Value(w.name, w.labels...) - before.Value(w.name, w.labels...); got != w.delta {
			t.Errorf("%s%v moved by %v, want %v", w.name, w.labels, got, w.delta)
		}
	}
	for _, role := range []string{"smtp", "submission", "imaps", "pop3s", "sendmail"} {
		if !after.Has("posthorn_connections_open", "protocol", role) || after.Value("posthorn_connections_open", "protocol", role) != 0 {
			t.Errorf("posthorn_connections_open{protocol=%q} = %v after every client left, want a 0 series", role, after.Value("posthorn_connections_open", "protocol", role))
		}
	}
	// The queue holds only the held message now; the bounce went to the
	// local sender's INBOX, not the queue.
	for state, n := range map[string]float64{"queued": 0, "deferred": 0, "held": 1} {
		if got := after.Value("posthorn_queue_messages", "state", state); got != n || !after.Has("posthorn_queue_messages", "state", state) {
			ms, _ := d.Store().QueuedMessages(ctx, 0)
			qc, err := d.Store().QueueCounts(ctx, time.Now())
			t.Errorf("posthorn_queue_messages{state=%q} = %v, want %v; queue: %+v; counts %+v %v", state, got, n, ms, qc, err)
		}
	}
	// This scrape came over an http connection, open now.
	if after.Value("posthorn_connections_total", "protocol", "http", "result", "accepted") < 1 || after.Value("posthorn_connections_open", "protocol", "http") < 1 {
		t.Errorf("http connections: total %v, open %v; want at least 1 each", after.Value("posthorn_connections_total", "protocol", "http", "result", "accepted"),
			after.Value("posthorn_connections_open", "protocol", "http"))
	}
	if !after.Has("go_goroutines") || !after.Has("process_resident_memory_bytes") {
		t.Error("the Go and process collectors are missing")
	}

	// Shutdown: /readyz says so at once, over the http listener, which
	// stays up while a transaction in progress finishes; the process still
	// answers /healthz.
	c, err := smtp.Dial(mx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("sender@client.test", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("user@example.org", nil); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { shutdown(); close(stopped) }()
	deadline = time.Now().Add(30 * time.Second)
	for {
		code, body := httpGet(t, ops.URL+"/readyz")
		if code == http.StatusServiceUnavailable {
			if !strings.Contains(body, "shutting down") {
				t.Errorf("/readyz during shutdown = %q, want the reason", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d %q after Shutdown began", code, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, _ := httpGet(t, ops.URL+"/healthz"); code != 200 {
		t.Errorf("/healthz during shutdown = %d, want 200", code)
	}
	// The transaction in progress is still received.
	w, err := c.Data()
	if err != nil {
		t.Fatalf("DATA during shutdown: %v", err)
	}
	io.WriteString(w, "Subject: last\r\n\r\nhi\r\n")
	if err := w.Close(); err != nil {
		t.Fatalf("end of DATA during shutdown: %v", err)
	}
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("Shutdown did not end after the last transaction")
	}
	if _, err := http.Get(ops.URL + "/healthz"); err == nil {
		t.Error("the http listener still answers after Shutdown")
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, err = io.Copy(&b, resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b.String()
}

// sendPlain sends one message over SMTP without STARTTLS.
func sendPlain(addr, rcpt string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	return sendOn(c, "sender@client.test", rcpt)
}

// sendOn sends one message on c and quits.
func sendOn(c *smtp.Client, from, rcpt string) error {
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		return err
	}
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, "Subject: in\r\n\r\nhi\r\n"); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}
