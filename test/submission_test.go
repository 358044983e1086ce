package test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// TestDevModeSubmission: dev mode's submission ports take a login from
// dev.json over STARTTLS (10587) and implicit TLS (10465), verify against
// the dev CA, and deliver to the other demo account's INBOX.
func TestDevModeSubmission(t *testing.T) {
	swaks := tools.Look(t, "swaks")
	dir := filepath.Join(t.TempDir(), "dev")
	s := startDev(t, dir, loopbackIP(t))
	if s.info.Ports["submission"] != 10587 || s.info.Ports["submissions"] != 10465 {
		t.Fatalf("dev.json ports = %v, want submission 10587 and submissions 10465", s.info.Ports)
	}
	alice, bob := s.info.Accounts[0], s.info.Accounts[1]
	for _, tc := range []struct{ role, flag string }{{"submission", "--tls"}, {"submissions", "--tls-on-connect"}} {
		out, err := exec.Command(swaks, "--server", fmt.Sprintf("%s:%d", s.info.Host, s.info.Ports[tc.role]), tc.flag,
			"--tls-verify", "--tls-ca-path", s.info.CAFile,
			"--auth", "PLAIN", "--auth-user", alice.Address, "--auth-password", alice.Password,
			"--from", alice.Address, "--to", bob.Address, "--header", "Subject: via "+tc.role, "--timeout", "10").CombinedOutput()
		if err != nil {
			t.Fatalf("swaks via %s: %v\n%s\nserver:\n%s", tc.role, err, out, s.out)
		}
	}
	list, err := exec.Command(binary, "message", "list", "-config", s.info.ConfigFile, bob.Address).CombinedOutput()
	if err != nil {
		t.Fatalf("message list: %v\n%s", err, list)
	}
	for _, role := range []string{"submission", "submissions"} {
		if !strings.Contains(string(list), "via "+role) {
			t.Errorf("bob's INBOX lacks the message sent via %s:\n%s", role, list)
		}
	}
	if err := s.stop(syscall.SIGTERM); err != nil {
		t.Errorf("dev mode did not exit cleanly: %v", err)
	}
}
