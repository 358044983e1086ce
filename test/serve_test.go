package test

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// startServe starts `posthorn serve` with the configuration text cfg
// (written to dir/posthorn.toml) and waits (bounded) until ready, an
// address it connects to once every listener is bound.
func startServe(t *testing.T, dir, cfg, ready string) *devServer {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "posthorn.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s := spawn(t, dir, "serve", "-config", path)
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", ready, time.Second)
		if err == nil {
			c.Close()
			return s
		}
		select {
		case <-s.done:
			t.Fatalf("posthorn serve exited before it was ready: %v\noutput:\n%s", s.err, s.out)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("posthorn serve not listening on %s within 30s\noutput:\n%s", ready, s.out)
		}
	}
}
