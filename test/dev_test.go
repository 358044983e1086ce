package test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testutil/poll"
	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// TestDevModeQuickstart does what the README tells a newcomer: start dev
// mode, paste the printed command that sends a message, and find the message
// in alice's INBOX with the printed listing command. Then it restarts dev
// mode and checks that data and passwords survived.
func TestDevModeQuickstart(t *testing.T) {
	tools.Look(t, "curl")
	dir := filepath.Join(t.TempDir(), "dev")
	addr := loopbackIP(t)
	s := startDev(t, dir, addr)

	if s.info.Host != addr || s.info.Domain != "example.test" || s.info.Hostname == "" || s.info.CAFile == "" {
		t.Fatalf("dev.json lacks facts: %+v", s.info)
	}
	if s.info.Ports["smtp"] != 10025 {
		t.Errorf("dev.json smtp port = %d, want the documented 10025", s.info.Ports["smtp"])
	}
	if len(s.info.Accounts) != 2 || s.info.Accounts[0].Address != "alice@example.test" || s.info.Accounts[0].Password == "" {
		t.Fatalf("dev.json accounts = %+v", s.info.Accounts)
	}
	// dev.json is written before the banner, which reaches us through a
	// pipe: wait for its last line, not a moment that may cut it short.
	poll.Until(t, 30*time.Second, "the end of the banner", func() bool {
		return strings.Contains(s.out.String(), "Stop with Ctrl-C")
	})
	banner := s.out.String()
	for _, a := range s.info.Accounts {
		if !strings.Contains(banner, a.Password) {
			t.Errorf("banner does not print the password of %s", a.Address)
		}
	}

	send := lineAfter(t, banner, "Send a test message to alice:")
	if out, err := exec.Command("bash", "-c", send).CombinedOutput(); err != nil {
		t.Fatalf("printed send command failed: %v\n%s\ncommand: %s", err, out, send)
	}
	list := lineAfter(t, banner, "Then list alice's INBOX:")
	list = strings.Replace(list, "posthorn ", binary+" ", 1)
	out, err := exec.Command("bash", "-c", list).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Hello from posthorn dev") {
		t.Fatalf("printed list command: err %v, output:\n%s", err, out)
	}

	// The local submission socket: in dev.json, and the printed
	// sendmail command delivers to bob.
	if s.info.Sendmail == nil || s.info.Sendmail.Socket != filepath.Join(dir, "sendmail.sock") {
		t.Errorf("dev.json sendmail = %+v, want the socket in %s", s.info.Sendmail, dir)
	}
	sm := lineAfter(t, banner, "Send from a script, cron or PHP's mail()")
	sm = strings.Replace(sm, "| posthorn ", "| "+binary+" ", 1)
	if out, err := exec.Command("bash", "-c", sm).CombinedOutput(); err != nil {
		t.Fatalf("printed sendmail command failed: %v\n%s\ncommand: %s", err, out, sm)
	}
	out, err = exec.Command(binary, "message", "list", "-config", s.info.ConfigFile, "bob@example.test").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Hi") {
		t.Errorf("bob's INBOX after the printed sendmail command: %v\n%s", err, out)
	}

	// The HTTP API on the documented port: the printed command sends to
	// alice and answers 202's body with the message id.
	if s.info.Ports["http"] != 10080 {
		t.Errorf("dev.json http port = %d, want the documented 10080", s.info.Ports["http"])
	}
	api := lineAfter(t, banner, "Send from an application through the HTTP API")
	api = strings.Replace(api, "$(posthorn ", "$("+binary+" ", 1)
	if out, err := exec.Command("bash", "-c", api).CombinedOutput(); err != nil || !strings.Contains(string(out), `"status":"delivered"`) {
		t.Fatalf("printed API command: %v\n%s\ncommand: %s", err, out, api)
	}
	out, err = exec.Command(binary, "message", "list", "-config", s.info.ConfigFile, "alice@example.test").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Hello from the API") {
		t.Errorf("alice's INBOX after the printed API command: %v\n%s", err, out)
	}

	if err := s.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("dev mode did not exit cleanly on SIGTERM: %v\n%s", err, s.out)
	}

	// Restart: same passwords, the message is still there.
	s2 := startDev(t, dir, addr)
	for i, a := range s2.info.Accounts {
		if a.Password != s.info.Accounts[i].Password {
			t.Errorf("password of %s changed across restart", a.Address)
		}
	}
	out2, err := exec.Command("bash", "-c", list).CombinedOutput()
	if err != nil || !strings.Contains(string(out2), "Hello from posthorn dev") {
		t.Fatalf("after restart, message list: err %v, output:\n%s", err, out2)
	}
	if err := s2.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("second dev run did not exit cleanly: %v", err)
	}
}

// lineAfter returns the trimmed line that follows the line containing marker.
func lineAfter(t *testing.T, text, marker string) string {
	t.Helper()
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if strings.Contains(l, marker) && i+1 < len(lines) {
			return strings.TrimSpace(lines[i+1])
		}
	}
	t.Fatalf("no line after %q in output:\n%s", marker, text)
	return ""
}

// TestDevDirInUse: a second `posthorn dev` on a directory that a running
// one uses stops with a clear error before it rewrites anything, so the
// running one keeps its configuration and the certificate for its
// address; once the first has stopped, the directory can be used again.
func TestDevDirInUse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dev")
	first := startDev(t, dir, loopbackIP(t))
	files := []string{"posthorn.toml", filepath.Join("tls", "cert.pem"), "dev.json"}
	before := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		before[f] = b
	}

	other := loopbackIP(t)
	out, err := run(t, nil, append([]string{"dev", "-dir", dir, "-addr", other}, devStoreArgs(t, dir)...)...)
	if err == nil || !strings.Contains(out, "in use by another posthorn dev") {
		t.Fatalf("second posthorn dev on %s: err %v, output:\n%s", dir, err, out)
	}
	for _, f := range files {
		if b, _ := os.ReadFile(filepath.Join(dir, f)); !bytes.Equal(b, before[f]) {
			t.Errorf("the refused second start changed %s", f)
		}
	}

	if err := first.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("first posthorn dev: %v", err)
	}
	second := startDev(t, dir, other)
	if second.info.Host != other {
		t.Errorf("after the first stopped, dev.json host %q, want %q", second.info.Host, other)
	}
}
