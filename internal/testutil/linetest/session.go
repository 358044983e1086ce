package linetest

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// Session is the body of a fuzz target for a line-protocol server: it
// sends in to addr, half-closes, and reads every reply line until the
// server closes. It fails the test if the session has not ended within
// timeout or a line is not accepted by wellFormed (which sees the line
// with its line ending).
func Session(t testing.TB, addr string, in []byte, timeout time.Duration, wellFormed func(line string) bool) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(timeout))
	go func() {
		nc.Write(in)
		nc.(*net.TCPConn).CloseWrite()
	}()
	r := bufio.NewReader(nc)
	for {
		l, err := r.ReadString('\n')
		if err == io.EOF && l == "" {
			return
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("session did not end within %v", timeout)
			}
			if strings.Contains(err.Error(), "connection reset") {
				return // the server closed with our bytes unread
			}
			t.Fatalf("reading replies: %q, %v", l, err)
		}
		if !wellFormed(l) {
			t.Fatalf("malformed reply line %q", l)
		}
	}
}
