package daemon

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/certs/certstest"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/internal/proxyproto/haproxytest"
	"github.com/posthorn/posthorn/internal/testutil/poll"
	"github.com/posthorn/posthorn/internal/testutil/syncbuf"
	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// pyThroughProxy is Python's smtplib, imaplib and poplib talking to the
// daemon through HAProxy from the loopback source address given: every
// socket the script opens is bound to it. It sends one message to the
// MX, one over submissions (465) with AUTH, tries the MX from a second,
// blocklisted address, then fetches everything over IMAPS and counts it
// over POP3S, and prints a JSON report.
const pyThroughProxy = `
import imaplib, json, poplib, smtplib, socket, ssl, sys
host, smtp, subs, imaps, pop3s, cafile, src, listed = sys.argv[1:9]
_connect = socket.create_connection
bind = [src]
def connect(address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, source_address=None, **kw):
    return _connect(address, timeout, (bind[0], 0), **kw)
socket.create_connection = connect
ctx = ssl.create_default_context(cafile=cafile)
report = {}
s = smtplib.SMTP(host, int(smtp), local_hostname='client.test', timeout=30)
s.sendmail('sender@client.test', ['user@example.org'], b'From: sender@client.test\r\nSubject: via haproxy mx\r\n\r\nhello\r\n')
s.quit()
s = smtplib.SMTP_SSL(host, int(subs), local_hostname='client.test', timeout=30, context=ctx)
s.login('user@example.org', 'a-long-password')
s.sendmail('user@example.org', ['user@example.org'], b'From: user@example.org\r\nSubject: via haproxy submissions\r\n\r\nhello\r\n')
s.quit()
bind[0] = listed
try:
    s = smtplib.SMTP(host, int(smtp), local_hostname='client.test', timeout=30)
    s.sendmail('sender@client.test', ['user@example.org'], b'Subject: listed\r\n\r\nhello\r\n')
    report['listed'] = 250
except smtplib.SMTPRecipientsRefused as e:
    report['listed'] = list(e.recipients.values())[0][0]
except smtplib.SMTPResponseException as e:
    report['listed'] = e.smtp_code
bind[0] = src
m = imaplib.IMAP4_SSL(host, int(imaps), ssl_context=ctx, timeout=30)
m.login('user@example.org', 'a-long-password')
m.select('INBOX')
typ, data = m.fetch('1:*', '(BODY.PEEK[HEADER])')
report['headers'] = [d[1].decode() for d in data if isinstance(d, tuple)]
m.logout()
p = poplib.POP3_SSL(host, int(pop3s), context=ctx, timeout=30)
p.user('user@example.org')
p.pass_('a-long-password')
report['pop3'] = p.stat()[0]
p.quit()
print(json.dumps(report))
`

// TestHAProxy puts a real HAProxy in front of a daemon whose listeners
// all take the PROXY protocol (v1 on smtp and submissions, v2 on imaps,
// pop3s and http) from 127.0.0.1 only, with clients on other loopback
// addresses, and checks that the daemon acts on the client's address:
// the Received field, SPF (HAProxy's own address is a trusted network
// that would skip the checks), the DNS blocklist, the IMAP per-IP limit,
// the API's Received field, /metrics' allowed networks and the logs.
// HAProxy's HTTP health checks (v2 LOCAL) pass. Connections straight to
// the daemon from an untrusted address, and without a header from the
// trusted one, are closed without a greeting.
func TestHAProxy(t *testing.T) {
	py := tools.Python(t)
	dir := t.TempDir()
	files := certstest.Dev(t, filepath.Join(dir, "tls"), []string{"mx.example.org"}, net.ParseIP("127.0.0.1"))
	zones := dnstest.Start(t,
		dnstest.Zone{Origin: "client.test", Records: `@ TXT "v=spf1 ip4:127.0.0.77 -all"`},
		dnstest.Zone{Origin: "bl.test", Records: "78.0.0.127 A 127.0.0.2\n"})
	cfg := fmt.Sprintf(`hostname = "mx.example.org"
domains = ["example.org"]
data_dir = %q
[[listeners]]
role = "smtp"
address = "127.0.0.1:0"
proxy_protocol = true
[[listeners]]
role = "submissions"
address = "127.0.0.1:0"
proxy_protocol = true
[[listeners]]
role = "imaps"
address = "127.0.0.1:0"
proxy_protocol = true
[[listeners]]
role = "pop3s"
address = "127.0.0.1:0"
proxy_protocol = true
[[listeners]]
role = "http"
address = "127.0.0.1:0"
proxy_protocol = true
[proxy]
trusted_networks = ["127.0.0.1"]
header_timeout = "1s"
[http]
plaintext = true
[metrics]
allowed_networks = ["127.0.0.77"]
[checks]
trusted_networks = ["127.0.0.1/32"]
dnsbl = ["bl.test"]
[dns]
servers = [%q]
[limits.imap]
max_connections_per_ip = 1
[tls]
cert_file = %q
key_file = %q
[log]
format = "json"
`, filepath.Join(dir, "data"), zones.Addr(), files.CertFile, files.KeyFile)
	logs := &syncbuf.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	d := startConfig(t, cfg, logger)
	token := addUserAndKey(t, d)
	addrs := d.Addrs()
	hp := haproxytest.Start(t,
		haproxytest.Route{Name: "smtp", Server: addrs["smtp"].String(), Send: "send-proxy"},
		haproxytest.Route{Name: "submissions", Server: addrs["submissions"].String(), Send: "send-proxy"},
		haproxytest.Route{Name: "imaps", Server: addrs["imaps"].String(), Send: "send-proxy-v2"},
		haproxytest.Route{Name: "pop3s", Server: addrs["pop3s"].String(), Send: "send-proxy-v2"},
		haproxytest.Route{Name: "http", Server: addrs["http"].String(), Send: "send-proxy-v2", HTTPCheck: "/healthz"})

	// HAProxy's health checks open their own connections with a v2
	// LOCAL header: they keep its address and get /healthz's 200.
	poll.Until(t, 30*time.Second, "HAProxy's /healthz check to pass", func() bool {
		s, _ := hp.CheckStatus("http")
		return s == "L7OK"
	})

	// Straight to the daemon: from an untrusted address, and from the
	// trusted one without a header, no greeting; the connection closes.
	for _, from := range []string{"127.0.0.77", "127.0.0.1"} {
		c := dialFrom(t, from, addrs["smtp"].String())
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		var ne net.Error
		if line != "" || err == nil || errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("direct connection from %s: read %q, %v; want it closed unanswered", from, line, err)
		}
	}

	// Python's clients through HAProxy from 127.0.0.77 (and 127.0.0.78,
	// which the blocklist lists).
	_, smtpPort, _ := net.SplitHostPort(hp.Addrs["smtp"])
	_, subsPort, _ := net.SplitHostPort(hp.Addrs["submissions"])
	_, imapsPort, _ := net.SplitHostPort(hp.Addrs["imaps"])
	_, pop3sPort, _ := net.SplitHostPort(hp.Addrs["pop3s"])

	// First the API, from 127.0.0.78, so that IMAP fetches its message too.
	api := httpClientFrom("127.0.0.78")
	req, _ := http.NewRequest("POST", "http://"+hp.Addrs["http"]+"/api/v1/messages",
		strings.NewReader("From: shop@example.org\r\nTo: user@example.org\r\nSubject: via haproxy api\r\n\r\nhello\r\n"))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "message/rfc822")
	res, err := api.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("API send through HAProxy: %d %s", res.StatusCode, body)
	}

	cmd := exec.Command(py, "-c", pyThroughProxy, "127.0.0.1", smtpPort, subsPort, imapsPort, pop3sPort, files.CAFile, "127.0.0.77", "127.0.0.78")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("python clients: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var report struct {
		Listed  int      `json:"listed"`
		Headers []string `json:"headers"`
		POP3    int      `json:"pop3"`
	}
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatalf("python report %q: %v", out, err)
	}
	if report.Listed < 500 || report.Listed > 599 {
		t.Errorf("MX from the listed 127.0.0.78: %d, want a 5xx refusal (the blocklist looks up the client, not HAProxy)", report.Listed)
	}
	if len(report.Headers) != 3 || report.POP3 != 3 {
		t.Errorf("IMAP fetched %d messages, POP3 counts %d; want 3 (API, MX, submissions)", len(report.Headers), report.POP3)
	}
	want := map[string][]string{
		"via haproxy api":         {"[127.0.0.78]"},
		"via haproxy mx":          {"[127.0.0.77]", "spf=pass"},
		"via haproxy submissions": {"[127.0.0.77]"},
	}
	for _, h := range report.Headers {
		for subj, parts := range want {
			if !strings.Contains(h, "Subject: "+subj+"\r\n") {
				continue
			}
			for _, p := range parts {
				if !strings.Contains(h, p) {
					t.Errorf("message %q lacks %q:\n%s", subj, p, h)
				}
			}
			if strings.Contains(h, "[127.0.0.1]") {
				t.Errorf("message %q names HAProxy's 127.0.0.1:\n%s", subj, h)
			}
			delete(want, subj)
		}
	}
	if len(want) > 0 {
		t.Errorf("messages not found: %v", want)
	}

	// The IMAP limit of one connection per client IP counts 127.0.0.79,
	// not HAProxy: a second connection from it is refused, one from
	// 127.0.0.80 is not.
	ca, _ := os.ReadFile(files.CAFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	greet := func(from string) (string, error) {
		c := dialFrom(t, from, hp.Addrs["imaps"])
		tc := tls.Client(c, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
		tc.SetDeadline(time.Now().Add(30 * time.Second))
		return bufio.NewReader(tc).ReadString('\n')
	}
	if l, err := greet("127.0.0.79"); !strings.HasPrefix(l, "* OK ") {
		t.Fatalf("first IMAPS connection from 127.0.0.79: %q, %v", l, err)
	}
	if l, err := greet("127.0.0.79"); err == nil {
		t.Errorf("second IMAPS connection from 127.0.0.79 over the per-IP limit of 1: greeted %q", l)
	}
	if l, err := greet("127.0.0.80"); !strings.HasPrefix(l, "* OK ") {
		t.Errorf("IMAPS connection from 127.0.0.80 while 127.0.0.79 holds its one: %q, %v", l, err)
	}

	// /metrics checks the client's address: 127.0.0.77 is allowed, 127.0.0.78
	// is not, though both arrive from HAProxy's 127.0.0.1.
	var metrics string
	for from, code := range map[string]int{"127.0.0.77": 200, "127.0.0.78": 403} {
		res, err := httpClientFrom(from).Get("http://" + hp.Addrs["http"] + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != code {
			t.Errorf("/metrics from %s through HAProxy: %d, want %d", from, res.StatusCode, code)
		}
		if code == 200 {
			metrics = string(b)
		}
	}
	// The two direct connections count as refused smtp connections.
	if want := `posthorn_connections_total{protocol="smtp",result="refused"} 2` + "\n"; !strings.Contains(metrics, want) {
		t.Errorf("metrics lack %q", want)
	}

	// The logs name the clients, and the refused direct connections.
	poll.Until(t, 30*time.Second, "the logs", func() bool {
		l := logs.String()
		return strings.Contains(l, `"msg":"smtp transaction"`) && strings.Count(l, "proxy protocol: connection refused") >= 2
	})
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `"msg":"smtp transaction"`) && !strings.Contains(line, `"client":"127.0.0.7`) {
			t.Errorf("transaction logged with another client: %s", line)
		}
	}
}

// dialFrom connects to addr from the loopback address from.
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 30 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// httpClientFrom is an HTTP client whose connections come from the
// loopback address from.
func httpClientFrom(from string) *http.Client {
	d := &net.Dialer{Timeout: 30 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}
