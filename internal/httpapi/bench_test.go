package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/posthorn/posthorn/internal/auth"
	"github.com/posthorn/posthorn/internal/smtpserver"
	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/sqlite"
	"github.com/posthorn/posthorn/internal/submission"
)

// The send paths side by side, as bench/api.sh runs them but in one
// process (plain TCP, no TLS, so a profile shows the servers' own work):
// 2 KiB text messages to one remote recipient from 50 concurrent clients,
// over the HTTP API (JSON, keep-alive) and over SMTP submission (AUTH once
// per connection, one transaction per message), both ending in the
// SQLite store's durable Enqueue.
//
//	go test -run '^$' -bench 'Send2KB' -count 6 -cpuprofile cpu.out ./internal/httpapi

const (
	benchClients = 50
	benchFrom    = "alice@example.org"
	benchTo      = "someone@remote.test"
	benchPW      = "alice-password-1"
)

var benchText = strings.Repeat("The quick brown fox jumps over the lazy dog, again and again. \n", 40)[:2048]

// benchStore is a fresh store with example.org and alice.
func benchStore(b *testing.B) store.Store {
	st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "store.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := st.AddDomain(b.Context(), "example.org"); err != nil {
		b.Fatal(err)
	}
	cred, err := auth.NewCredentials(benchPW)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := st.AddAccount(b.Context(), benchFrom, cred); err != nil {
		b.Fatal(err)
	}
	return st
}

// runClients sends b.N messages over benchClients clients, each with its
// own connection made by dial and used by send.
func runClients[C any](b *testing.B, dial func() C, send func(c C, i int64) error, done func(C)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	conns := make([]C, benchClients)
	for i := range conns {
		conns[i] = dial()
	}
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for _, c := range conns {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				if err := send(c, i); err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	cpu := cpuTime(b) - cpu0
	for _, c := range conns {
		done(c)
	}
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/msg")
}

// cpuTime is the process's CPU time so far (user and system; server and
// clients together).
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkSendJSON2KB(b *testing.B) {
	st := benchStore(b)
	api := New(Options{Store: st, Hostname: "mail.example.org",
		Sender: submission.New(submission.Options{Store: st, Hostname: "mail.example.org"})})
	b.Cleanup(api.Close)
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = api.HTTPServer()
	srv.Start()
	b.Cleanup(srv.Close)
	token, k := NewKey()
	k.Name, k.Domain = "bench", "example.org"
	if _, err := st.AddAPIKey(b.Context(), k); err != nil {
		b.Fatal(err)
	}
	url := srv.URL + "/api/v1/messages"
	runClients(b, func() *http.Client {
		return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1}}
	}, func(c *http.Client, i int64) error {
		body, _ := json.Marshal(map[string]any{"from": benchFrom, "to": []string{benchTo}, "subject": fmt.Sprintf("api bench %d", i), "text": benchText})
		req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := c.Do(req)
		if err != nil {
			return err
		}
		rb, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusAccepted {
			return fmt.Errorf("status %d: %s", res.StatusCode, rb)
		}
		return nil
	}, func(c *http.Client) { c.CloseIdleConnections() })
}

func BenchmarkSendSMTP2KB(b *testing.B) {
	st := benchStore(b)
	be := submission.New(submission.Options{Store: st, Hostname: "mail.example.org"})
	as := auth.NewService(st, auth.ServiceOptions{AllowPlaintext: true, Throttle: auth.ThrottleOptions{Disabled: true}})
	srv := smtpserver.New(smtpserver.Options{Hostname: "mail.example.org", Authenticator: as, RequireAuth: true}, be)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	b.Cleanup(func() {
		srv.Shutdown(context.Background())
		<-done
	})
	body := strings.ReplaceAll(benchText, "\n", "\r\n")
	runClients(b, func() *smtp.Client {
		c, err := smtp.Dial(l.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Auth(sasl.NewPlainClient("", benchFrom, benchPW)); err != nil {
			b.Fatal(err)
		}
		return c
	}, func(c *smtp.Client, i int64) error {
		msg := fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nSubject: smtp bench %d\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s", benchFrom, benchTo, i, body)
		return c.SendMail(benchFrom, []string{benchTo}, strings.NewReader(msg))
	}, func(c *smtp.Client) { c.Quit() })
}

// BenchmarkReadJSONSend2KB is the API's own work per JSON send before the
// store (decoding and compose.Build), without the network: the part of
// BenchmarkSendJSON2KB that submission does not pay, measured steadily
// enough to compare builds on a loaded machine.
//
//	go test -run '^$' -bench ReadJSONSend -benchmem -count 6 ./internal/httpapi
func BenchmarkReadJSONSend2KB(b *testing.B) {
	body, _ := json.Marshal(map[string]any{"from": benchFrom, "to": []string{benchTo}, "subject": "api bench 1", "text": benchText})
	s := &Server{now: time.Now}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.readJSONSend(body, now); err != nil {
			b.Fatal(err)
		}
	}
}
