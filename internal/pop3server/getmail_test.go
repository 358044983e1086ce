package pop3server

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// runGetmail retrieves alice's mail once with getmail6, keeping or
// deleting the messages on the server. Each message goes to its own file
// in dir/out through an external MDA (getmail's Maildir delivery refuses
// to run as root, which CI is).
func runGetmail(t *testing.T, addr, dir string, keep bool) {
	t.Helper()
	gm := tools.Look(t, "getmail")
	host, port, _ := net.SplitHostPort(addr)
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(out, 0o700); err != nil {
		t.Fatal(err)
	}
	rc := fmt.Sprintf(`[retriever]
type = SimplePOP3Retriever
server = %s
port = %s
username = %s
password = %s
timeout = 10

[destination]
type = MDA_external
path = /bin/sh
arguments = ("-c", "exec cat > \"$(mktemp %s/msg.XXXXXX)\"")
allow_root_commands = true
unixfrom = false

[options]
delete = %v
read_all = false
delivered_to = false
received = false
verbose = 2
`, host, port, alice, alicePW, out, !keep)
	rcFile := filepath.Join(dir, "getmailrc")
	if err := os.WriteFile(rcFile, []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(gm, "--getmaildir", dir, "--rcfile", rcFile)
	output, err := runBounded(cmd)
	if err != nil {
		t.Fatalf("getmail: %v\n%s", err, output)
	}
	t.Logf("getmail:\n%s", output)
}

// getmailMessages returns the messages getmail delivered to dir/out,
// sorted by content, with line endings made CRLF (getmail hands the MDA
// LF line endings) and without the Return-Path line getmail adds.
func getmailMessages(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, "out", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m := strings.ReplaceAll(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n", "\r\n")
		// getmail always adds the envelope sender it does not know.
		out = append(out, strings.TrimPrefix(m, "Return-Path: <unknown>\r\n"))
	}
	slices.Sort(out)
	return out
}

// TestGetmailKeep: getmail6 keeps mail on the server, and the next time
// takes only the new message (by UIDL); the bytes arrive intact.
func TestGetmailKeep(t *testing.T) {
	tools.Look(t, "getmail")
	e := newEnv(t)
	e.fill(t)
	_, addr := e.start(t, Options{AllowPlaintextAuth: true})
	dir := t.TempDir()
	want := []string{msg1, msg2, msg3}
	slices.Sort(want)

	runGetmail(t, addr, dir, true)
	if got := getmailMessages(t, dir); !slices.Equal(got, want) {
		t.Fatalf("getmail delivered %q, want %q", got, want)
	}
	if got := e.inbox(t, e.alice); len(got) != 3 {
		t.Fatalf("INBOX has %d messages after a keep run, want 3", len(got))
	}
	runGetmail(t, addr, dir, true)
	if got := getmailMessages(t, dir); len(got) != 3 {
		t.Fatalf("second keep run delivered again: %d messages", len(got))
	}
	const late = "Subject: late\r\n\r\n.dot\r\n"
	e.deliver(t, e.alice, late)
	runGetmail(t, addr, dir, true)
	want = append(want, late)
	slices.Sort(want)
	if got := getmailMessages(t, dir); !slices.Equal(got, want) {
		t.Fatalf("getmail delivered %q, want %q", got, want)
	}
}

// TestGetmailDelete: with delete, getmail6 removes what it took.
func TestGetmailDelete(t *testing.T) {
	tools.Look(t, "getmail")
	e := newEnv(t)
	e.fill(t)
	_, addr := e.start(t, Options{AllowPlaintextAuth: true})
	dir := t.TempDir()
	runGetmail(t, addr, dir, false)
	want := []string{msg1, msg2, msg3}
	slices.Sort(want)
	if got := getmailMessages(t, dir); !slices.Equal(got, want) {
		t.Fatalf("getmail delivered %q, want %q", got, want)
	}
	if got := e.inbox(t, e.alice); len(got) != 0 {
		t.Fatalf("INBOX has %d messages after a delete run, want 0", len(got))
	}
}
