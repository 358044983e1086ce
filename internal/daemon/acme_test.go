package daemon

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/certs/pebbletest"
	"github.com/posthorn/posthorn/internal/testutil/syncbuf"
)

// TestACMESubmissions: a daemon configured with [tls.acme] obtains a
// certificate from pebble at start (TLS-ALPN-01 and HTTP-01 listeners of
// its own) and serves it on its implicit-TLS submission port, where the
// chain verifies against pebble's root.
func TestACMESubmissions(t *testing.T) {
	ca := pebbletest.Start(t, 90*24*time.Hour)
	dir := t.TempDir()
	logs := &syncbuf.Buffer{}
	d := startConfig(t, fmt.Sprintf(`hostname = "mail.example.test"
data_dir = %q
[[listeners]]
role = "submissions"
address = "127.0.0.1:0"
[tls.acme]
hostnames = ["mail.example.test"]
directory_url = %q
ca_file = %q
tls_address = "127.0.0.1:%d"
http_address = "127.0.0.1:%d"
`, filepath.Join(dir, "data"), ca.DirURL, ca.CAFile, ca.TLSPort, ca.HTTPPort), slog.New(slog.NewTextHandler(logs, nil)))
	addr := d.Addrs()["submissions"].String()
	roots := ca.Roots(t)
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr,
			&tls.Config{ServerName: "mail.example.test", RootCAs: roots})
		if err == nil {
			c.SetDeadline(time.Now().Add(10 * time.Second))
			greeting, err := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if err != nil || !strings.HasPrefix(greeting, "220 ") {
				t.Fatalf("greeting over the ACME certificate: %q, %v", greeting, err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no verifiable certificate on %s after 60s: %v\nlogs:\n%s\npebble:\n%s", addr, err, logs, ca.Output())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
