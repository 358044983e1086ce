package test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// TestSIGTERMFinishesTransaction sends SIGTERM while a client is in the
// middle of DATA: the server must stop accepting new connections, let the
// transaction finish with a 250, store the message and exit with status 0.
// Meanwhile the http listener answers /readyz with 503.
func TestSIGTERMFinishesTransaction(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dev")
	addr := loopbackIP(t)
	s := startDev(t, dir, addr)

	c, err := smtp.Dial(s.smtpAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example.org"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("a@client.example.org", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("bob@example.test", nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "Subject: in flight during SIGTERM\r\n\r\nfirst half\r\n")
	readyz := fmt.Sprintf("http://%s:%d/readyz", s.info.Host, s.info.Ports["http"])
	if code, body := httpGet(t, readyz); code != http.StatusOK {
		t.Fatalf("/readyz before SIGTERM = %d %q", code, body)
	}

	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// New connections are refused once the listener is closed.
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", s.smtpAddr(), time.Second)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("server still accepts connections 10s after SIGTERM")
		}
		time.Sleep(10 * time.Millisecond)
	}

	if code, body := httpGet(t, readyz); code != http.StatusServiceUnavailable || !strings.Contains(body, "shutting down") {
		t.Errorf("/readyz while the transaction drains = %d %q, want 503 shutting down", code, body)
	}

	io.WriteString(w, "second half\r\n")
	if err := w.Close(); err != nil {
		t.Fatalf("transaction in flight was not completed after SIGTERM: %v", err)
	}
	c.Quit()

	if err := s.wait(20 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, s.out)
	}

	st := openDevStore(t, dir)
	defer st.Close()
	got := storedTokens(t, st, "bob@example.test")
	if got["in flight during SIGTERM"] != 1 {
		t.Fatalf("message finished during shutdown stored %d times, want 1 (store has %v)", got["in flight during SIGTERM"], fmt.Sprint(got))
	}
	if !strings.Contains(s.out.String(), "stopped") {
		t.Errorf("no 'stopped' log line:\n%s", s.out)
	}
}

// httpGet returns a GET's status and body.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}
