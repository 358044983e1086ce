// Package haproxytest runs a real HAProxy (Debian package haproxy) in
// front of servers under test: TCP mode, one frontend on a free
// 127.0.0.1 port per Route, forwarding to one server with the PROXY
// protocol. A missing haproxy binary skips the test, or fails it under
// CI=true (package tools).
package haproxytest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testutil/syncbuf"
	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// Route is one frontend and the server behind it.
type Route struct {
	// Name names the frontend and backend (letters, digits, "_").
	Name string
	// Server is the backend's host:port.
	Server string
	// Send is the server option for the PROXY header: "send-proxy" (v1)
	// or "send-proxy-v2"; "" sends none.
	Send string
	// HTTPCheck, if set, is the path of an HTTP health check run every
	// 200 ms (option httpchk; over send-proxy-v2 it starts with a v2
	// LOCAL header).
	HTTPCheck string
	// Check, without HTTPCheck, runs a TCP health check (connect, then
	// close) every 200 ms; over send-proxy-v2 it too sends a v2 LOCAL
	// header first.
	Check bool
}

// HAProxy is a running haproxy process.
type HAProxy struct {
	// Addrs are the frontends' addresses by Route name.
	Addrs map[string]string
	stats string // admin socket path
}

// Start writes a configuration for routes, runs `haproxy -f cfg -db` as a
// child until the test ends and waits until it answers on its stats
// socket (its frontends are bound by then).
func Start(t testing.TB, routes ...Route) *HAProxy {
	t.Helper()
	bin := tools.Look(t, "haproxy")
	dir := t.TempDir()
	h := &HAProxy{Addrs: make(map[string]string), stats: filepath.Join(dir, "stats.sock")}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, `global
	maxconn 200
	stats socket %s level admin
defaults
	mode tcp
	timeout connect 5s
	timeout client 60s
	timeout server 60s
	timeout check 5s
`, h.stats)
	for _, r := range routes {
		addr := freeAddr(t)
		h.Addrs[r.Name] = addr
		check := ""
		fmt.Fprintf(&cfg, "frontend fe_%s\n\tbind %s\n\tdefault_backend be_%s\nbackend be_%s\n", r.Name, addr, r.Name, r.Name)
		if r.HTTPCheck != "" {
			fmt.Fprintf(&cfg, "\toption httpchk GET %s\n", r.HTTPCheck)
			check = " check inter 200ms rise 1 fall 1"
		}
		if r.Check {
			check = " check inter 200ms rise 1 fall 1"
		}
		fmt.Fprintf(&cfg, "\tserver s %s %s%s\n", r.Server, r.Send, check)
	}
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-f", path, "-db")
	out := &syncbuf.Buffer{} // read while haproxy may still write
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := h.command("show info"); err == nil {
			return h
		}
		select {
		case <-exited:
			t.Fatalf("haproxy exited: %s\nconfiguration:\n%s", out, cfg.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy did not answer on its stats socket within 30s: %s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// CheckStatus is the last health check's status of route's server, as
// "show stat" reports it: e.g. "L7OK" after a 2xx answer.
func (h *HAProxy) CheckStatus(route string) (string, error) {
	out, err := h.command("show stat")
	if err != nil {
		return "", err
	}
	lines := strings.Split(out, "\n")
	if len(lines) == 0 {
		return "", fmt.Errorf("empty show stat")
	}
	col := -1
	for i, name := range strings.Split(strings.TrimPrefix(lines[0], "# "), ",") {
		if name == "check_status" {
			col = i
		}
	}
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		if len(f) > col && col >= 0 && f[0] == "be_"+route && f[1] == "s" {
			return f[col], nil
		}
	}
	return "", fmt.Errorf("no server of be_%s in show stat", route)
}

// command sends one command to the stats socket and returns the answer.
func (h *HAProxy) command(cmd string) (string, error) {
	c, err := net.DialTimeout("unix", h.stats, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\n", cmd); err != nil {
		return "", err
	}
	var b strings.Builder
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	return b.String(), sc.Err()
}

// freeAddr is a 127.0.0.1 address with a port free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
