package test

import (
	"bufio"
	"io"
	"net"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/store/postgres/pgtest"
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
	a := serveWithLease(t, cl.a, lease)
	args := func(mode string, s devInfo) []string { return pop3LockArgs(mode, s, s.Accounts[0]) }
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

// TestPOP3LockDatabaseOutage: a POP3 session whose node loses the
// PostgreSQL database (cut at a proxy) cannot renew its maildrop lock and
// is ended with -ERR [SYS/TEMP] once its lease may have run out, deleting
// nothing it marked; with the database back, the next session finds every
// message.
func TestPOP3LockDatabaseOutage(t *testing.T) {
	py := tools.Look(t, "python3")
	const lease = 3 * time.Second
	proxy := pgtest.NewProxy(t, pgtest.DSN(t))
	dev := startDevArgs(t, filepath.Join(t.TempDir(), "dev"), loopbackIP(t), "-store-dsn", proxy.DSN())
	alice := dev.info.Accounts[0]
	sc, err := smtp.Dial(dev.smtpAddr())
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Hello("outage-test.example.org"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		deliverOne(t, sc, alice.Address, i)
	}
	sc.Quit()
	s := serveWithLease(t, dev, lease)

	h := holdPOP3(t, py, pop3LockArgs("hold", s.info, alice))
	if got := h.send("dele 1"); !strings.HasPrefix(got, "+OK") {
		t.Fatalf("DELE 1: %q", got)
	}
	proxy.Cut()
	cut := time.Now()
	var ended string
	for ended == "" {
		switch got := h.send("noop"); {
		case strings.HasPrefix(got, "+OK"):
			if time.Since(cut) > lease+time.Minute {
				t.Fatalf("the POP3 session still runs %v after the database was cut, with a lease of %v\nnode:\n%s", time.Since(cut), lease, s.out)
			}
			time.Sleep(100 * time.Millisecond)
		case strings.HasPrefix(got, "error -ERR [SYS/TEMP] Maildrop lock lost"):
			ended = got
		default:
			t.Fatalf("NOOP after the database was cut: %q\nnode:\n%s", got, s.out)
		}
	}
	t.Logf("session ended %v after the database was cut (lease %v): %q", time.Since(cut).Round(time.Millisecond), lease, ended)
	if d := time.Since(cut); d < lease/3 {
		t.Errorf("session ended %v after the cut: before even one renewal could have failed", d)
	}
	proxy.Restore()
	// The lock was not released (the database was away): it runs out.
	deadline := time.Now().Add(lease + time.Minute)
	for {
		out, err := exec.Command(py, pop3LockArgs("try", s.info, alice)...).CombinedOutput()
		got := strings.TrimSpace(string(out))
		if err == nil && strings.HasPrefix(got, "ok ") {
			if got != "ok 2" {
				t.Fatalf("after the outage the maildrop holds %q, want ok 2: the ended session deleted a message", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no POP3 login after the database came back: %v %q\nnode:\n%s", err, got, s.out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// serveWithLease stops dev node s and runs it again as posthorn serve
// with dev mode's configuration and [limits.pop3] maildrop_lease = lease
// (dev mode rewrites its configuration at every start).
func serveWithLease(t *testing.T, s *devServer, lease time.Duration) *devServer {
	t.Helper()
	if err := s.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM posthorn dev: %v", err)
	}
	cfg, err := os.ReadFile(s.info.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	pop3s := net.JoinHostPort(s.info.Host, itoa(s.info.Ports["pop3s"]))
	n := startServe(t, filepath.Dir(s.info.ConfigFile), string(cfg)+"\n[limits.pop3]\nmaildrop_lease = \""+lease.String()+"\"\n", pop3s)
	n.info = s.info
	return n
}

// pop3LockArgs are the arguments of testdata/pop3_lock.py in mode for
// acct on s's pop3s port.
func pop3LockArgs(mode string, s devInfo, acct devAccount) []string {
	return []string{filepath.Join("testdata", "pop3_lock.py"), mode, s.Host, itoa(s.Ports["pop3s"]), s.CAFile, acct.Address, acct.Password}
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
