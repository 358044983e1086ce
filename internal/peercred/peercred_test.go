package peercred

import (
	"net"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestListenReportsPeer(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SO_PEERCRED is Linux only")
	}
	path := filepath.Join(t.TempDir(), "sub", "s.sock")
	ln, err := Listen(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o666 || fi.Mode().Type() != os.ModeSocket {
		t.Errorf("socket mode %v, want 0666 socket", fi.Mode())
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o755 {
		t.Errorf("directory mode %v, want 0755", di.Mode().Perm())
	}
	done := make(chan net.Addr, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- nil
			return
		}
		done <- c.RemoteAddr()
		c.Close()
	}()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, ok := (<-done).(*Addr)
	if !ok {
		t.Fatalf("RemoteAddr is not an *Addr")
	}
	if int(a.UID) != os.Getuid() || int(a.GID) != os.Getgid() || int(a.PID) != os.Getpid() {
		t.Errorf("peer %+v, want uid %d gid %d pid %d", a, os.Getuid(), os.Getgid(), os.Getpid())
	}
	if !strings.HasPrefix(a.String(), "uid ") {
		t.Errorf("String() = %q", a.String())
	}
}

func TestListenRefusesLiveSocketReplacesStale(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := Listen(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(path, Options{}); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Errorf("second Listen on a live socket: %v, want an error", err)
	}
	// A socket file left behind by a killed daemon: bind it, keep the
	// file, close the descriptor.
	ln.Close()
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ul.SetUnlinkOnClose(false)
	ul.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("stale file missing: %v", err)
	}
	ln, err = Listen(path, Options{})
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	ln.Close()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("socket file left after Close: %v", err)
	}
	// A regular file is never removed.
	os.WriteFile(path, []byte("x"), 0o600)
	if _, err := Listen(path, Options{}); err == nil {
		t.Error("Listen replaced a regular file")
	}
}

func TestListenGroup(t *testing.T) {
	if _, err := Listen(filepath.Join(t.TempDir(), "s.sock"), Options{Group: "no-such-group-posthorn"}); err == nil {
		t.Error("unknown group accepted")
	}
	g, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	if err != nil {
		t.Skipf("own group: %v", err)
	}
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := Listen(path, Options{Group: g.Name})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o660 || int(st.Gid) != os.Getgid() {
		t.Errorf("socket mode %v gid %d, want 0660 and group %s (%d)", fi.Mode().Perm(), st.Gid, g.Name, os.Getgid())
	}
}
