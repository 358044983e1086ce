package linetest

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchSMTP sends b.N messages to the SMTP server at addr over sessions
// concurrent connections, each transaction pipelined (MAIL FROM
// <s@remote.test>, RCPT TO <rcpt>, DATA, then body, which ends in CRLF,
// and the final dot), and reports msgs/s. Only the timer's part of the
// benchmark runs here: set up the server before.
func BenchSMTP(b *testing.B, addr string, sessions int, rcpt, body string) {
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
	for range sessions {
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
				fmt.Fprintf(w, "MAIL FROM:<s@remote.test>\r\nRCPT TO:<%s>\r\nDATA\r\n", rcpt)
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
