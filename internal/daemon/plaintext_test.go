package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/auth"
	"github.com/posthorn/posthorn/internal/certs/certstest"
	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// plaintextLogins logs in over IMAP (143) and POP3 (110) without TLS with
// Python's imaplib and poplib, and prints one line per protocol: "ok" or
// the server's refusal.
const plaintextLogins = `
import imaplib, poplib, sys
imap_port, pop_port, user, pw = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
m = imaplib.IMAP4("127.0.0.1", imap_port, timeout=20)
try:
    m.login(user, pw)
    m.select("INBOX")
    print("imap ok", " ".join(m.capabilities))
except imaplib.IMAP4.error as e:
    print("imap refused", e, " ".join(m.capabilities))
p = poplib.POP3("127.0.0.1", pop_port, timeout=20)
try:
    p.user(user)
    p.pass_(pw)
    print("pop3 ok", p.stat())
except poplib.error_proto as e:
    print("pop3 refused", e)
`

// TestPlaintextOnLoopback: auth.plaintext_on_loopback lets a loopback
// client log in over IMAP and POP3 without TLS; without it both refuse
// (PRIVACYREQUIRED, LOGINDISABLED).
func TestPlaintextOnLoopback(t *testing.T) {
	py := tools.Look(t, "python3")
	dir := t.TempDir()
	files := certstest.Dev(t, filepath.Join(dir, "tls"), []string{"mx.example.org"}, net.ParseIP("127.0.0.1"))
	cred, err := auth.NewCredentials("a-long-password")
	if err != nil {
		t.Fatal(err)
	}
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprint("plaintext_on_loopback=", on), func(t *testing.T) {
			d := startConfig(t, fmt.Sprintf(`hostname = "mx.example.org"
domains = ["example.org"]
data_dir = %q
[[listeners]]
role = "imap"
address = "127.0.0.1:0"
[[listeners]]
role = "pop3"
address = "127.0.0.1:0"
[tls]
cert_file = %q
key_file = %q
[auth]
plaintext_on_loopback = %v
`, filepath.Join(t.TempDir(), "data"), files.CertFile, files.KeyFile, on), slog.New(slog.DiscardHandler))
			if _, err := d.Store().AddAccount(context.Background(), "user@example.org", cred); err != nil {
				t.Fatal(err)
			}
			port := func(role string) string {
				_, p, _ := net.SplitHostPort(d.Addrs()[role].String())
				return p
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, py, "-c", plaintextLogins, port("imap"), port("pop3"), "user@example.org", "a-long-password").CombinedOutput()
			if err != nil {
				t.Fatalf("python: %v\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != 2 {
				t.Fatalf("python output: %s", out)
			}
			if on {
				if !strings.HasPrefix(lines[0], "imap ok") || strings.Contains(lines[0], "LOGINDISABLED") {
					t.Errorf("IMAP login without TLS from 127.0.0.1, switch on: %s", lines[0])
				}
				if !strings.HasPrefix(lines[1], "pop3 ok") {
					t.Errorf("POP3 login without TLS from 127.0.0.1, switch on: %s", lines[1])
				}
				return
			}
			if !strings.HasPrefix(lines[0], "imap refused") || !strings.Contains(lines[0], "LOGINDISABLED") {
				t.Errorf("IMAP login without TLS, switch off: %s", lines[0])
			}
			if !strings.HasPrefix(lines[1], "pop3 refused") {
				t.Errorf("POP3 login without TLS, switch off: %s", lines[1])
			}
		})
	}
}
