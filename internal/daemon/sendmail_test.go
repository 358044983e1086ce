package daemon

import (
	"bufio"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/config"
	"github.com/posthorn/posthorn/internal/testutil/syncbuf"
)

// TestSendmailSocketNoPerIPLimit: every local client of the sendmail
// socket has the same (no) address, so the per-IP and per-network limits
// of TCP listeners must not apply; only the total does. 150 concurrent
// connections (over the TCP default of 100 per IP) all get a greeting.
func TestSendmailSocketNoPerIPLimit(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "sendmail.sock")
	cfg, err := config.Parse("test.toml", []byte(fmt.Sprintf(`hostname = "mx.example.org"
domains = ["example.org"]
data_dir = %q
[[listeners]]
role = "smtp"
address = "127.0.0.1:0"
[sendmail]
socket = %q
`, filepath.Join(dir, "data"), sock)))
	if err != nil {
		t.Fatal(err)
	}
	logger, err := NewLogger(&syncbuf.Buffer{}, "info", "text")
	if err != nil {
		t.Fatal(err)
	}
	d := start(t, cfg, logger)
	const n = 150
	for i := range n {
		c, err := net.DialTimeout("unix", d.SendmailSocket(), 10*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v", i+1, err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "220") {
			t.Fatalf("connection %d of %d: greeting %q, %v (a per-IP limit applied to the local socket?)", i+1, n, line, err)
		}
	}
}
