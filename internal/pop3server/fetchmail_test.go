package pop3server

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// runFetchmail polls the server at addr once as alice, delivering each
// message to its own file in outDir through an MDA, with keep or delete.
// The idfile (UIDs seen, for keep mode) lives in home. It returns
// fetchmail's exit code: 0 mail retrieved, 1 no mail.
func runFetchmail(t *testing.T, addr, home, outDir string, keep bool) int {
	t.Helper()
	fm := tools.Look(t, "fetchmail")
	host, port, _ := net.SplitHostPort(addr)
	mda := filepath.Join(home, "mda.sh")
	script := "#!/bin/sh\nexec cat > \"$(mktemp " + outDir + "/$(date +%s%N).XXXXXX)\"\n"
	if err := os.WriteFile(mda, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	keepWord := "nokeep"
	if keep {
		keepWord = "keep"
	}
	rc := fmt.Sprintf(`set no bouncemail
poll %s with proto POP3 and port %s and uidl and timeout 10:
  user "%s" there with password "%s" is "root" here
  %s no stripcr sslproto ''
  mda "%s"
`, host, port, alice, alicePW, keepWord, mda)
	rcFile := filepath.Join(home, "fetchmailrc")
	if err := os.WriteFile(rcFile, []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(fm, "-f", rcFile, "--idfile", filepath.Join(home, "fetchids"), "--invisible", "--nosyslog", "-v")
	cmd.Env = append(os.Environ(), "HOME="+home, "FETCHMAILHOME="+home)
	out, err := runBounded(cmd)
	code := cmd.ProcessState.ExitCode()
	if err != nil && code > 1 {
		t.Fatalf("fetchmail exited %d: %v\n%s", code, err, out)
	}
	t.Logf("fetchmail exit %d:\n%s", code, out)
	return code
}

// runBounded runs cmd with a timeout.
func runBounded(cmd *exec.Cmd) ([]byte, error) {
	cmd.WaitDelay = time.Second
	var buf strings.Builder
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return []byte(buf.String()), err
	case <-time.After(2 * testTimeout):
		cmd.Process.Kill()
		<-done
		return []byte(buf.String()), fmt.Errorf("%s did not finish within %v", cmd.Path, 2*testTimeout)
	}
}

// delivered returns the files in dir, in delivery order.
func delivered(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// TestFetchmailKeep: fetchmail with keep and UIDL takes every message
// once, leaves them on the server, and on the next poll takes only the
// new one (which relies on UIDL being stable).
func TestFetchmailKeep(t *testing.T) {
	tools.Look(t, "fetchmail")
	e := newEnv(t)
	e.fill(t)
	_, addr := e.start(t, Options{AllowPlaintextAuth: true})
	home, out := t.TempDir(), t.TempDir()

	if code := runFetchmail(t, addr, home, out, true); code != 0 {
		t.Fatalf("first poll: exit %d, want 0", code)
	}
	if got := delivered(t, out); !slices.Equal(got, []string{msg1, msg2, msg3}) {
		t.Fatalf("fetchmail delivered %q", got)
	}
	if got := e.inbox(t, e.alice); len(got) != 3 {
		t.Fatalf("INBOX has %d messages after a keep poll, want 3", len(got))
	}
	if code := runFetchmail(t, addr, home, out, true); code != 1 {
		t.Fatalf("second poll: exit %d, want 1 (no new mail)", code)
	}
	const late = "Subject: late\r\n\r\n.starts with a dot\r\n"
	e.deliver(t, e.alice, late)
	if code := runFetchmail(t, addr, home, out, true); code != 0 {
		t.Fatalf("third poll: exit %d, want 0", code)
	}
	if got := delivered(t, out); !slices.Equal(got, []string{msg1, msg2, msg3, late}) {
		t.Fatalf("fetchmail delivered %q", got)
	}
}

// TestFetchmailDelete: without keep, fetchmail deletes what it took.
func TestFetchmailDelete(t *testing.T) {
	tools.Look(t, "fetchmail")
	e := newEnv(t)
	e.fill(t)
	_, addr := e.start(t, Options{AllowPlaintextAuth: true})
	home, out := t.TempDir(), t.TempDir()
	if code := runFetchmail(t, addr, home, out, false); code != 0 {
		t.Fatalf("poll: exit %d, want 0", code)
	}
	if got := delivered(t, out); !slices.Equal(got, []string{msg1, msg2, msg3}) {
		t.Fatalf("fetchmail delivered %q", got)
	}
	if got := e.inbox(t, e.alice); len(got) != 0 {
		t.Fatalf("INBOX has %d messages after a delete poll, want 0", len(got))
	}
}
