package smtpserver

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/metrics"
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
	const sessions = 50
	var wg sync.WaitGroup
	var next sync.Mutex
	remaining := b.N
	take := func() bool {
		next.Lock()
		defer next.Unlock()
		if remaining == 0 {
			return false
		}
		remaining--
		return true
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < sessions; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				b.Error(err)
				return
			}
			defer nc.Close()
			r := bufio.NewReader(nc)
			w := bufio.NewWriter(nc)
			expect := func(code string) bool {
				for {
					l, err := r.ReadString('\n')
					if err != nil || !strings.HasPrefix(l, code) {
						b.Errorf("got %q, %v; want %s", l, err, code)
						return false
					}
					if l[3] == ' ' {
						return true
					}
				}
			}
			if !expect("220") {
				return
			}
			fmt.Fprintf(w, "EHLO bench.test\r\n")
			w.Flush()
			if !expect("250") {
				return
			}
			for take() {
				fmt.Fprintf(w, "MAIL FROM:<s@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
				w.Flush()
				if !expect("250") || !expect("250") || !expect("354") {
					return
				}
				w.WriteString(body)
				w.WriteString(".\r\n")
				w.Flush()
				if !expect("250") {
					return
				}
			}
			fmt.Fprintf(w, "QUIT\r\n")
			w.Flush()
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

type discardBackend struct{}

func (discardBackend) NewSession(ConnInfo) Session { return discardSession{} }

type discardSession struct{}

func (discardSession) Mail(context.Context, string, MailOptions) error { return nil }
func (discardSession) Rcpt(context.Context, string) error              { return nil }
func (discardSession) Data(context.Context, *Message) error            { return nil }
func (discardSession) Reset()                                          {}
func (discardSession) Close()                                          {}
