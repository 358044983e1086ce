package test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testutil/syncbuf"
)

// devInfo mirrors DIR/dev.json, the stable interface of dev mode.
type devInfo struct {
	Host       string         `json:"host"`
	Hostname   string         `json:"hostname"`
	Domain     string         `json:"domain"`
	Ports      map[string]int `json:"ports"`
	Accounts   []devAccount   `json:"accounts"`
	CAFile     string         `json:"ca_file"`
	ConfigFile string         `json:"config_file"`
	DataDir    string         `json:"data_dir"`
	Store      string         `json:"store"`
	Sendmail   *struct {
		Socket string `json:"socket"`
	} `json:"sendmail"`
}

// devAccount is a demo account in dev.json.
type devAccount struct {
	Address  string `json:"address"`
	Password string `json:"password"`
}

// devServer is a `posthorn dev` process.
type devServer struct {
	t    *testing.T
	dir  string
	addr string
	cmd  *exec.Cmd
	out  *syncbuf.Buffer
	info devInfo
	done chan struct{} // closed when the process has exited
	err  error         // its exit error, valid after done
}

// spawn starts the posthorn binary with args; it is killed when the test
// ends if still running.
func spawn(t *testing.T, dir string, args ...string) *devServer {
	t.Helper()
	s := &devServer{t: t, dir: dir, out: &syncbuf.Buffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(binary, args...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			s.cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

// startDev starts `posthorn dev` on dir and addr and waits (bounded) until
// it has written dev.json, which it does only once every listener is bound.
// The store is where POSTHORN_TEST_STORE says (devStoreArgs).
func startDev(t *testing.T, dir, addr string) *devServer {
	t.Helper()
	args := devStoreArgs(t, dir)
	s := startDevArgs(t, dir, addr, args...)
	if want := map[bool]string{false: "sqlite", true: "postgres"}[len(args) > 0]; s.info.Store != want {
		t.Fatalf("dev.json store %q, want %q", s.info.Store, want)
	}
	return s
}

// startDevArgs is startDev with more arguments for `posthorn dev`.
func startDevArgs(t *testing.T, dir, addr string, args ...string) *devServer {
	t.Helper()
	infoFile := filepath.Join(dir, "dev.json")
	// dev.json is rewritten once every listener is bound: wait for a new one.
	var oldMod time.Time
	if fi, err := os.Stat(infoFile); err == nil {
		oldMod = fi.ModTime()
	}
	s := spawn(t, dir, append([]string{"dev", "-dir", dir, "-addr", addr}, args...)...)
	s.addr = addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		if fi, err := os.Stat(infoFile); err == nil && !fi.ModTime().Equal(oldMod) {
			b, err := os.ReadFile(infoFile)
			if err == nil && json.Unmarshal(b, &s.info) == nil {
				return s
			}
		}
		select {
		case <-s.done:
			t.Fatalf("posthorn dev exited before it was ready: %v\noutput:\n%s", s.err, s.out)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("posthorn dev wrote no dev.json within 30s\noutput:\n%s", s.out)
		}
	}
}

func (s *devServer) smtpAddr() string {
	return fmt.Sprintf("%s:%d", s.info.Host, s.info.Ports["smtp"])
}

// stop sends sig and waits (bounded) for the process to end.
func (s *devServer) stop(sig syscall.Signal) error {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
	return s.wait(30 * time.Second)
}

// wait waits up to d for the process to exit and returns its exit error.
func (s *devServer) wait(d time.Duration) error {
	s.t.Helper()
	select {
	case <-s.done:
		return s.err
	case <-time.After(d):
		s.cmd.Process.Kill()
		s.t.Fatalf("posthorn did not exit within %v\noutput:\n%s", d, s.out)
		return nil
	}
}

// run runs the posthorn binary with args and returns its output and error.
func run(t *testing.T, stdin io.Reader, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Stdin = stdin
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return out.String(), err
}
