package mx

import (
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/testutil/linetest"
)

// BenchmarkMX10K sends 10 KB messages over 50 concurrent pipelining
// sessions into a store/sqlite store; msgs/s is the figure to watch.
func BenchmarkMX10K(b *testing.B) {
	e := newEnv(b, envOpts{})
	line := strings.Repeat("0123456789", 7) + "\r\n" // 72 octets
	body := "Subject: bench\r\n\r\n" + strings.Repeat(line, 10240/len(line))
	linetest.BenchSMTP(b, e.addr, 50, "alice@example.test", body)
}
