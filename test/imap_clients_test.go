package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// Reference stack (shared/refstack) facts, for the IMAPQA_REFSTACK=1 runs
// that check the client scripts against Dovecot.
const (
	refHost   = "127.0.0.1"
	refCA     = "/var/lib/refstack/tls/ca.crt"
	refUser   = "bob@example.test"
	refPass   = "bob-Pw-9q4m8"
	refClient = "127.0.0.2" // Dovecot allows plaintext LOGIN from 127.0.0.1
)

func refstackOrSkip(t *testing.T) {
	t.Helper()
	if os.Getenv("IMAPQA_REFSTACK") != "1" {
		t.Skip("set IMAPQA_REFSTACK=1 to run against the reference stack")
	}
}

// runScript runs a Python script from testdata and fails with its output
// unless it ends with "all ok".
func runScript(t *testing.T, s *devServer, script string, args ...string) string {
	t.Helper()
	py := tools.Look(t, "python3")
	out, err := exec.Command(py, append([]string{filepath.Join("testdata", script)}, args...)...).CombinedOutput()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "all ok") {
		server := ""
		if s != nil {
			server = s.out.String()
		}
		t.Fatalf("%s: %v\n%s\nserver output:\n%s", script, err, out, server)
	}
	return string(out)
}

func TestRefstackIMAPCommands(t *testing.T) {
	refstackOrSkip(t)
	t.Log(runScript(t, nil, "imap_commands.py", refHost, "2143", "2993", refCA, refUser, refPass, "--src", refClient))
}

// TestDevModeMbsync: two-way sync with mbsync (isync). Mail delivered over
// SMTP is pulled into a Maildir; a flag set and a message deleted locally
// reach the server (the deletion expunged there, checked with imaplib);
// a flag set on the server is pulled back.
func TestDevModeMbsync(t *testing.T) {
	tools.Look(t, "mbsync")
	withDev(t, func(s *devServer) {
		a := s.info.Accounts[0]
		runScript(t, s, "mbsync_sync.py", s.info.Host, itoa(s.info.Ports["imaps"]), itoa(s.info.Ports["smtp"]),
			s.info.CAFile, a.Address, a.Password, t.TempDir())
	})
}

func TestRefstackMbsync(t *testing.T) {
	refstackOrSkip(t)
	tools.Look(t, "mbsync")
	runScript(t, nil, "mbsync_sync.py", refHost, "2993", "2525", refCA, refUser, refPass, t.TempDir())
}

// withDev runs fn against a fresh dev-mode server and then checks that it
// stops cleanly on SIGTERM.
func withDev(t *testing.T, fn func(s *devServer)) {
	t.Helper()
	s := startDev(t, filepath.Join(t.TempDir(), "dev"), loopbackIP(t))
	fn(s)
	if err := s.stop(syscall.SIGTERM); err != nil {
		t.Errorf("dev mode did not exit cleanly: %v", err)
	}
}
