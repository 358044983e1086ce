// Command outload submits a batch of messages over SMTP for the outbound
// benchmark (bench/outbound.sh): N messages over C connections, each to
// one recipient, spread over D destination domains d1.bench … dD.bench,
// optionally with STARTTLS and AUTH PLAIN (posthorn's submission port).
// It prints the time the submissions took.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:587", "server host:port")
	n := flag.Int("n", 10000, "messages")
	c := flag.Int("c", 20, "connections")
	domains := flag.Int("d", 10, "destination domains")
	kb := flag.Int("s", 4, "body size in KiB")
	from := flag.String("from", "sender@example.test", "envelope sender and From:")
	useTLS := flag.Bool("tls", false, "STARTTLS (certificate not checked)")
	user := flag.String("user", "", "AUTH PLAIN user (with -tls)")
	pass := flag.String("pass", "", "AUTH PLAIN password")
	sinks := flag.String("sinks", "", "instead of sending: wait until the smtp-sink -c outputs matching this glob count -total messages")
	total := flag.Int("total", 0, "with -sinks: the message count to wait for")
	flag.Parse()
	if *sinks != "" {
		waitSinks(*sinks, *total)
		return
	}

	line := strings.Repeat("abcdefghijklmnopqrstuvwxyz0123456789 lorem ipsum dolor sit amet ..", 1) + "\r\n"
	body := strings.Repeat(line, *kb*1024/len(line)+1)
	var next atomic.Int64
	var failed atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range *c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var cl *smtp.Client
			for {
				i := next.Add(1) - 1
				if i >= int64(*n) {
					break
				}
				for try := 0; ; try++ {
					if cl == nil {
						var err error
						cl, err = dial(*addr, *useTLS, *user, *pass)
						if err != nil {
							if try > 20 {
								fmt.Fprintln(os.Stderr, "outload:", err)
								failed.Add(1)
								break
							}
							time.Sleep(100 * time.Millisecond)
							continue
						}
					}
					to := fmt.Sprintf("r%d@d%d.bench", i, i%int64(*domains)+1)
					msg := fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nSubject: outbound bench %d\r\nMessage-ID: <bench-%d-%d@outload>\r\nDate: %s\r\n\r\n%s",
						*from, to, i, start.UnixNano(), i, time.Now().Format(time.RFC1123Z), body)
					if err := cl.SendMail(*from, []string{to}, strings.NewReader(msg)); err != nil {
						cl.Close()
						cl = nil
						if try > 20 {
							fmt.Fprintln(os.Stderr, "outload:", err)
							failed.Add(1)
							break
						}
						continue
					}
					break
				}
			}
			if cl != nil {
				cl.Quit()
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	fmt.Printf("submitted %d in %.2fs (%.0f/s), %d failed\n", *n-int(failed.Load()), d.Seconds(), float64(*n)/d.Seconds(), failed.Load())
	if failed.Load() > 0 {
		os.Exit(1)
	}
}

// waitSinks polls the counters smtp-sink -c writes ("sess=1 quit=1
// mesg=N" lines ending in CR) every 20 ms until they add up to total,
// then exits; 15 minutes at most.
func waitSinks(glob string, total int) {
	deadline := time.Now().Add(15 * time.Minute)
	for {
		files, _ := filepath.Glob(glob)
		sum := 0
		for _, f := range files {
			sum += lastCount(f)
		}
		if sum >= total {
			return
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "outload: sinks at %d of %d after 15 minutes\n", sum, total)
			os.Exit(1)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func lastCount(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	buf := make([]byte, 128)
	off := max(fi.Size()-int64(len(buf)), 0)
	n, _ := f.ReadAt(buf, off)
	tail := string(buf[:n])
	i := strings.LastIndex(tail, "mesg=")
	if i < 0 {
		return 0
	}
	num := tail[i+5:]
	if j := strings.IndexAny(num, "\r\n "); j >= 0 {
		num = num[:j]
	}
	v, _ := strconv.Atoi(num)
	return v
}

func dial(addr string, useTLS bool, user, pass string) (*smtp.Client, error) {
	var cl *smtp.Client
	var err error
	if useTLS {
		cl, err = smtp.DialStartTLS(addr, &tls.Config{InsecureSkipVerify: true})
	} else {
		cl, err = smtp.Dial(addr)
	}
	if err != nil {
		return nil, err
	}
	if user != "" {
		if err := cl.Auth(sasl.NewPlainClient("", user, pass)); err != nil {
			cl.Close()
			return nil, err
		}
	}
	return cl, nil
}
