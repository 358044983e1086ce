package test

import (
	"bufio"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// TestClusterPOP3Lock: the POP3 maildrop lock holds across two nodes on
// one PostgreSQL database (RFC 1939 §8), with Python's poplib as the
// client. While a session on node A holds alice's maildrop, a login on
// node B is answered -ERR [IN-USE]; after QUIT on A, B gets in. After A
// is killed with SIGKILL in the middle of a session, B is refused until
// A's lease (limits.pop3.maildrop_lease, short here) has run out, then
// gets in.
func TestClusterPOP3Lock(t *testing.T) {
	py := tools.Look(t, "python3")
	const lease = 10 * time.Second
	cl := startDevCluster(t)
	// Node A again, as posthorn serve with dev mode's configuration and a
	// short lease (dev mode rewrites its configuration at every start).
	if err := cl.a.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM node A: %v", err)
	}
	cfg, err := os.ReadFile(cl.a.info.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	popA := net.JoinHostPort(cl.a.info.Host, itoa(cl.a.info.Ports["pop3s"]))
	a := startServe(t, filepath.Dir(cl.a.info.ConfigFile), string(cfg)+"\n[limits.pop3]\nmaildrop_lease = \""+lease.String()+"\"\n", popA)
	alice := cl.a.info.Accounts[0]
	script := filepath.Join("testdata", "pop3_lock.py")
	args := func(mode string, s devInfo) []string {
		return []string{script, mode, s.Host, itoa(s.Ports["pop3s"]), s.CAFile, alice.Address, alice.Password}
	}
	// try logs in on node B and reports "ok N" or "refused REPLY".
	try := func() string {
		t.Helper()
		out, err := exec.Command(py, args("try", cl.b.info)...).CombinedOutput()
		if err != nil {
			t.Fatalf("poplib on node B: %v\n%s\nnode B:\n%s", err, out, cl.b.out)
		}
		return strings.TrimSpace(string(out))
	}
	wantRefused := func(when string) {
		t.Helper()
		if got := try(); !strings.HasPrefix(got, "refused -ERR [IN-USE]") {
			t.Fatalf("login on node B %s: %q, want -ERR [IN-USE]\nnode B:\n%s", when, got, cl.b.out)
		}
	}

	h := holdPOP3(t, py, args("hold", cl.a.info))
	wantRefused("while node A holds the maildrop")
	if got := h.send("quit"); !strings.HasPrefix(got, "+OK") {
		t.Fatalf("QUIT on node A: %q", got)
	}
	if got := try(); !strings.HasPrefix(got, "ok ") {
		t.Fatalf("login on node B after QUIT on node A: %q\nnode B:\n%s", got, cl.b.out)
	}

	holdPOP3(t, py, args("hold", cl.a.info))
	if err := a.stop(syscall.SIGKILL); err == nil {
		t.Fatal("node A exited cleanly after SIGKILL")
	}
	killed := time.Now()
	wantRefused("right after node A was killed while holding the maildrop")
	// A renewed its lease at most lease/3 before the kill: the lock is
	// A's until at least killed + 2/3 lease, and at most killed + lease.
	var in time.Duration
	for {
		got := try()
		in = time.Since(killed)
		if strings.HasPrefix(got, "ok ") {
			break
		}
		if !strings.HasPrefix(got, "refused -ERR [IN-USE]") {
			t.Fatalf("login on node B after the kill: %q", got)
		}
		if in > lease+time.Minute {
			t.Fatalf("node B still refused %v after node A was killed, with a lease of %v: the dead node's lock never ran out", in, lease)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("node B got the maildrop %v after node A was killed (lease %v)", in.Round(time.Millisecond), lease)
	if in < lease*2/3-time.Second {
		t.Errorf("node B got the maildrop %v after the kill, before node A's lease (%v, renewed every %v) could have run out", in, lease, lease/3)
	}
}

// pop3Holder is a Python poplib session holding a maildrop.
type pop3Holder struct {
	t   *testing.T
	in  io.WriteCloser
	out *bufio.Reader
}

// holdPOP3 starts pop3_lock.py hold and waits (bounded) for its login.
func holdPOP3(t *testing.T, py string, args []string) *pop3Holder {
	t.Helper()
	cmd := exec.Command(py, args...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); cmd.Process.Kill(); cmd.Wait() })
	h := &pop3Holder{t: t, in: in, out: bufio.NewReader(out)}
	if l := h.line(); !strings.HasPrefix(l, "held ") {
		t.Fatalf("poplib login on node A: %q", l)
	}
	return h
}

// line reads the script's next line, waiting at most a minute.
func (h *pop3Holder) line() string {
	h.t.Helper()
	type result struct {
		l   string
		err error
	}
	c := make(chan result, 1)
	go func() {
		l, err := h.out.ReadString('\n')
		c <- result{l, err}
	}()
	select {
	case r := <-c:
		if r.err != nil {
			h.t.Fatalf("pop3_lock.py: %v (%q)", r.err, r.l)
		}
		return strings.TrimSpace(r.l)
	case <-time.After(time.Minute):
		h.t.Fatal("pop3_lock.py printed nothing within a minute")
		return ""
	}
}

// send writes a command line to the script and returns its answer.
func (h *pop3Holder) send(cmd string) string {
	h.t.Helper()
	if _, err := io.WriteString(h.in, cmd+"\n"); err != nil {
		h.t.Fatal(err)
	}
	return h.line()
}
