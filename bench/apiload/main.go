// Command apiload measures accepted sends per second for bench/api.sh:
// N messages of S KiB of text over C concurrent clients, through the HTTP
// API (POST /api/v1/messages, JSON, keep-alive, one connection per client)
// or through SMTP submission (STARTTLS, AUTH PLAIN once per connection,
// then one transaction per message, as an application's mail library
// does). Both verify the server's certificate with -ca. It prints one line:
//
//	apiload mode=api msgs=N clients=C secs=S msgs_per_s=R errors=E
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

func main() {
	mode := flag.String("mode", "api", "api or smtp")
	addr := flag.String("addr", "127.0.0.1:443", "server host:port (loopback only)")
	n := flag.Int("n", 5000, "messages")
	c := flag.Int("c", 50, "concurrent clients")
	kb := flag.Int("s", 2, "text size in KiB")
	from := flag.String("from", "alice@example.test", "sender")
	to := flag.String("to", "bench@remote.example", "recipient")
	key := flag.String("key", "", "API key (mode api)")
	user := flag.String("user", "", "AUTH PLAIN user (mode smtp)")
	pass := flag.String("pass", "", "AUTH PLAIN password (mode smtp)")
	caFile := flag.String("ca", "", "PEM CA certificate to verify the server with")
	serverName := flag.String("servername", "mail.example.test", "TLS server name")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		fatal(fmt.Errorf("-addr %q: a loopback IP address and port", *addr))
	}
	tc := &tls.Config{ServerName: *serverName}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			fatal(err)
		}
		tc.RootCAs = x509.NewCertPool()
		tc.RootCAs.AppendCertsFromPEM(pem)
	}
	line := "The quick brown fox jumps over the lazy dog, 0123456789 lorem ipsum.\n"
	text := strings.Repeat(line, *kb*1024/len(line)+1)[:*kb*1024]

	var next, failed atomic.Int64
	var once sync.Once
	report := func(err error) {
		failed.Add(1)
		once.Do(func() { fmt.Fprintln(os.Stderr, "apiload:", err) })
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range *c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch *mode {
			case "api":
				apiClient(*addr, *key, tc, *from, *to, text, int64(*n), &next, report)
			case "smtp":
				smtpClient(*addr, *user, *pass, tc, *from, *to, text, int64(*n), &next, report)
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	ok := int64(*n) - failed.Load()
	fmt.Printf("apiload mode=%s msgs=%d clients=%d size_kb=%d secs=%.2f msgs_per_s=%.1f errors=%d\n",
		*mode, ok, *c, *kb, secs, float64(ok)/secs, failed.Load())
}

// apiClient sends messages over one keep-alive HTTPS connection until n
// are taken.
func apiClient(addr, key string, tc *tls.Config, from, to, text string, n int64, next *atomic.Int64, report func(error)) {
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: tc, MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	for {
		i := next.Add(1) - 1
		if i >= n {
			return
		}
		body, _ := json.Marshal(map[string]any{"from": from, "to": []string{to}, "subject": fmt.Sprintf("api bench %d", i), "text": text})
		req, _ := http.NewRequest("POST", "https://"+addr+"/api/v1/messages", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			report(err)
			continue
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusAccepted {
			report(fmt.Errorf("status %d: %s", res.StatusCode, b))
		}
	}
}

// smtpClient sends messages over one authenticated submission connection
// until n are taken.
func smtpClient(addr, user, pass string, tc *tls.Config, from, to, text string, n int64, next *atomic.Int64, report func(error)) {
	var cl *smtp.Client
	defer func() {
		if cl != nil {
			cl.Quit()
		}
	}()
	body := strings.ReplaceAll(text, "\n", "\r\n")
	for {
		i := next.Add(1) - 1
		if i >= n {
			return
		}
		if cl == nil {
			var err error
			if cl, err = smtp.DialStartTLS(addr, tc); err != nil {
				report(err)
				cl = nil
				continue
			}
			if err := cl.Auth(sasl.NewPlainClient("", user, pass)); err != nil {
				report(err)
				cl.Close()
				cl = nil
				continue
			}
		}
		msg := fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nSubject: smtp bench %d\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s", from, to, i, body)
		if err := cl.SendMail(from, []string{to}, strings.NewReader(msg)); err != nil {
			report(err)
			cl.Close()
			cl = nil
		}
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "apiload:", err)
	os.Exit(2)
}
