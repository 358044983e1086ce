package daemon

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/certs/certstest"
	"github.com/posthorn/posthorn/internal/config"
)

// TestIMAPListeners: the imap and imaps roles need a certificate; with
// one, 993 greets over TLS and 143 offers STARTTLS with logins disabled,
// and [limits.imap] reaches the engine.
func TestIMAPListeners(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Parse("test.toml", []byte(fmt.Sprintf(`hostname = "mx.example.org"
data_dir = %q
[[listeners]]
role = "imap"
address = "127.0.0.1:0"
`, dir)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Start(context.Background(), cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "needs a certificate") {
		t.Fatalf("Start with imap and no TLS: %v", err)
	}

	files := certstest.Dev(t, filepath.Join(dir, "tls"), []string{"mx.example.org"}, net.ParseIP("127.0.0.1"))
	d := startConfig(t, fmt.Sprintf(`hostname = "mx.example.org"
data_dir = %q
[[listeners]]
role = "imap"
address = "127.0.0.1:0"
[[listeners]]
role = "imaps"
address = "127.0.0.1:0"
[tls]
cert_file = %q
key_file = %q
[limits.imap]
max_connections_per_ip = 1
`, filepath.Join(dir, "data"), files.CertFile, files.KeyFile), slog.New(slog.DiscardHandler))
	ca, _ := os.ReadFile(files.CAFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	tc, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", d.Addrs()["imaps"].String(),
		&tls.Config{RootCAs: pool, ServerName: "mx.example.org"})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if l, _ := bufio.NewReader(tc).ReadString('\n'); !strings.HasPrefix(l, "* OK [CAPABILITY IMAP4rev1 IMAP4rev2 AUTH=") {
		t.Fatalf("imaps greeting %q", l)
	}
	readGreeting := func() string {
		c, err := net.DialTimeout("tcp", d.Addrs()["imap"].String(), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		l, _ := bufio.NewReader(c).ReadString('\n')
		return l
	}
	if l := readGreeting(); !strings.HasPrefix(l, "* OK [CAPABILITY IMAP4rev1 IMAP4rev2 STARTTLS LOGINDISABLED ") {
		t.Fatalf("imap greeting %q", l)
	}
	// The first connection is still open: max_connections_per_ip = 1 is
	// per listener, so a second one to 143 is refused.
	if l := readGreeting(); !strings.HasPrefix(l, "* BYE [UNAVAILABLE]") {
		t.Fatalf("second connection to 143: %q", l)
	}
}
