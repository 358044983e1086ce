// Package test holds end-to-end tests: the real posthorn binary, started as a
// separate process on loopback, driven by real clients.
package test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// binary is the posthorn binary built once for all tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "posthorn-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "posthorn")
	build := exec.Command("go", "build", "-o", binary, "../cmd/posthorn")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building posthorn:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// loopbackIP returns a random address in 127.0.0.0/8 so that tests using
// dev mode's fixed ports do not collide with each other or a running dev
// server.
func loopbackIP(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf("127.%d.%d.%d", 100+rand.IntN(100), rand.IntN(256), 1+rand.IntN(250))
}

func itoa(n int) string { return strconv.Itoa(n) }
