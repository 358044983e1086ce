package linetest

import (
	"context"
	"net"
	"testing"
	"time"
)

// Server is what the protocol engines (smtpserver, pop3server,
// imapserver) have in common.
type Server interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
}

// Serve runs srv on a fresh port of 127.0.0.1 and returns its address.
// When the test ends it shuts srv down within timeout, and fails the test
// if Shutdown or Serve returns an error or Serve has not returned by then.
func Serve(t testing.TB, srv Server, timeout time.Duration) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(timeout):
			t.Errorf("Serve did not return %v after Shutdown", timeout)
		}
	})
	return l.Addr().String()
}
