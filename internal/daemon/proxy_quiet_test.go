package daemon

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pp "github.com/pires/go-proxyproto"

	"github.com/posthorn/posthorn/internal/certs/certstest"
	"github.com/posthorn/posthorn/internal/proxyproto/haproxytest"
	"github.com/posthorn/posthorn/internal/testutil/poll"
	"github.com/posthorn/posthorn/internal/testutil/syncbuf"
	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// TestHealthCheckSessionsLogQuiet: on IMAPS and POP3S behind the PROXY
// protocol, the sessions of a balancer's health checks (a v2 LOCAL
// header, then a hang-up, with a reset or not) and of clients that hang
// up during the TLS handshake end with a DEBUG line, while a client that
// sends garbage instead of a ClientHello still gets an INFO line. Then a
// real HAProxy checks both listeners every 200 ms (send-proxy-v2): its
// checks add DEBUG lines only, on SUBMISSIONS too.
func TestHealthCheckSessionsLogQuiet(t *testing.T) {
	tools.Look(t, "haproxy")
	dir := t.TempDir()
	files := certstest.Dev(t, filepath.Join(dir, "tls"), []string{"mx.example.org"})
	cfg := fmt.Sprintf(`hostname = "mx.example.org"
domains = ["example.org"]
data_dir = %q
[[listeners]]
role = "imaps"
address = "127.0.0.1:0"
proxy_protocol = true
[[listeners]]
role = "pop3s"
address = "127.0.0.1:0"
proxy_protocol = true
[[listeners]]
role = "submissions"
address = "127.0.0.1:0"
proxy_protocol = true
[proxy]
trusted_networks = ["127.0.0.1"]
[tls]
cert_file = %q
key_file = %q
`, filepath.Join(dir, "data"), files.CertFile, files.KeyFile)
	logs := &syncbuf.Buffer{}
	d := startConfig(t, cfg, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	addrs := d.Addrs()

	// header connects to the listener from HAProxy's 127.0.0.1 and sends
	// a v2 header: LOCAL, or PROXY for the client address given.
	header := func(listener, client string) *net.TCPConn {
		c := dialFrom(t, "127.0.0.1", addrs[listener].String()).(*net.TCPConn)
		h := &pp.Header{Version: 2, Command: pp.LOCAL}
		if client != "" {
			h = pp.HeaderProxyFromAddrs(2, &net.TCPAddr{IP: net.ParseIP(client), Port: 40000}, addrs[listener])
		}
		if _, err := h.WriteTo(c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, l := range []string{"imaps", "pop3s"} {
		// HAProxy's check: LOCAL, then a close, or a reset.
		header(l, "").Close()
		c := header(l, "")
		c.SetLinger(0)
		c.Close()
		// A client hanging up before its ClientHello.
		header(l, "127.0.0.21").Close()
		// A client sending garbage: the handshake fails, and that is news.
		c = header(l, "127.0.0.22")
		io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
		defer c.Close()
	}

	type line struct {
		Level, Msg, Client, End string
	}
	var lines []line
	count := map[string]int{} // level, client → lines
	sessions := func() int {
		lines = nil
		clear(count)
		for _, s := range strings.Split(logs.String(), "\n") {
			var l line
			if json.Unmarshal([]byte(s), &l) == nil && strings.HasSuffix(l.Msg, " session") {
				lines = append(lines, l)
				count[l.Level+" "+l.Client]++
			}
		}
		return len(lines)
	}
	poll.Until(t, 30*time.Second, "the eight session lines", func() bool { return sessions() >= 8 })
	for _, l := range lines {
		if l.Level == "INFO" && !strings.Contains(l.End, "tls handshake") {
			t.Errorf("INFO line with another end than the handshake: %+v", l)
		}
	}
	// Two protocols: 4 checks from 127.0.0.1, 2 hang-ups, 2 garbage.
	if count["DEBUG 127.0.0.1"] != 4 || count["DEBUG 127.0.0.21"] != 2 || count["INFO 127.0.0.22"] != 2 || len(lines) != 8 {
		t.Errorf("session lines by level and client: %v; want DEBUG 127.0.0.1: 4, DEBUG 127.0.0.21: 2, INFO 127.0.0.22: 2\n%s", count, logs)
	}

	// HAProxy's own checks, as a deployment runs them.
	hp := haproxytest.Start(t,
		haproxytest.Route{Name: "imaps", Server: addrs["imaps"].String(), Send: "send-proxy-v2", Check: true},
		haproxytest.Route{Name: "pop3s", Server: addrs["pop3s"].String(), Send: "send-proxy-v2", Check: true},
		haproxytest.Route{Name: "submissions", Server: addrs["submissions"].String(), Send: "send-proxy-v2", Check: true})
	poll.Until(t, 30*time.Second, "six HAProxy checks on top", func() bool {
		s1, _ := hp.CheckStatus("imaps")
		s2, _ := hp.CheckStatus("pop3s")
		s3, _ := hp.CheckStatus("submissions")
		sessions()
		return s1 == "L4OK" && s2 == "L4OK" && s3 == "L4OK" && count["DEBUG 127.0.0.1"]+count["INFO 127.0.0.1"] >= 4+6
	})
	if count["INFO 127.0.0.1"] != 0 || count["INFO 127.0.0.22"] != 2 {
		t.Errorf("with HAProxy's checks, session lines by level and client: %v; want no INFO line but the 2 from 127.0.0.22\n%s", count, logs)
	}
	// SMTP (submissions here) logs transactions, not sessions, and its
	// handshake failures at debug: no INFO line names HAProxy either.
	for _, s := range strings.Split(logs.String(), "\n") {
		var l line
		if json.Unmarshal([]byte(s), &l) == nil && l.Level == "INFO" && l.Client == "127.0.0.1" {
			t.Errorf("INFO line for HAProxy's own connection: %s", s)
		}
	}
}
