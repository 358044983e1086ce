package smtpserver

import (
	"context"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/metrics"
	"github.com/posthorn/posthorn/internal/testutil/linetest"
)

// BenchmarkEngine10K sends 10 KB messages over 50 concurrent pipelining
// sessions to a backend that only counts: the engine's own cost.
func BenchmarkEngine10K(b *testing.B) { benchEngine10K(b, Options{}) }

// BenchmarkEngine10KMetrics is BenchmarkEngine10K with the connection and
// message counters on, as the daemon runs it: the cost of metrics.
func BenchmarkEngine10KMetrics(b *testing.B) {
	r := metrics.New()
	benchEngine10K(b, Options{Conns: r.Conns("smtp"), Received: r.Received("smtp")})
}

func benchEngine10K(b *testing.B, opts Options) {
	_, addr := startServer(b, opts, discardBackend{})
	line := strings.Repeat("0123456789", 7) + "\r\n" // 72 octets
	body := "Subject: bench\r\n\r\n" + strings.Repeat(line, 10240/len(line))
	linetest.BenchSMTP(b, addr, 50, "alice@example.test", body)
}

type discardBackend struct{}

func (discardBackend) NewSession(ConnInfo) Session { return discardSession{} }

type discardSession struct{}

func (discardSession) Mail(context.Context, string, MailOptions) error { return nil }
func (discardSession) Rcpt(context.Context, string) error              { return nil }
func (discardSession) Data(context.Context, *Message) error            { return nil }
func (discardSession) Reset()                                          {}
func (discardSession) Close()                                          {}
