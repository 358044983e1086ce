// Command scalefill fills one mailbox of a stopped posthorn's SQLite store
// with many small messages, fast (concurrent Deliver calls share group
// commits), for the large-mailbox tests and benchmarks. It is a test tool:
// it writes into the data directory directly, so the server must not run.
//
//	scalefill -db DATA/mail.db -account alice@example.test -mailbox scale -n 100000
//
// Message i (1-based) has the header "X-Scale: i"; every -every'th body
// contains the word -term. Messages are about -size bytes.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/sqlite"
)

func main() {
	db := flag.String("db", "", "path of mail.db")
	account := flag.String("account", "alice@example.test", "account address")
	mailbox := flag.String("mailbox", "scale", "mailbox to fill (created if missing)")
	n := flag.Int("n", 100000, "messages")
	size := flag.Int("size", 600, "approximate message size in bytes")
	term := flag.String("term", "posthornneedle", "word planted in every -every'th body")
	every := flag.Int("every", 1000, "plant -term every N messages")
	workers := flag.Int("workers", 128, "concurrent deliveries")
	flag.Parse()
	if err := run(*db, *account, *mailbox, *n, *size, *term, *every, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "scalefill:", err)
		os.Exit(1)
	}
}

func run(db, account, mailbox string, n, size int, term string, every, workers int) error {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, db, sqlite.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	acct, err := st.Account(ctx, account)
	if err != nil {
		return err
	}
	if _, err := st.Mailbox(ctx, acct.ID, mailbox); err != nil {
		if _, err := st.CreateMailbox(ctx, acct.ID, mailbox, ""); err != nil {
			return err
		}
	}
	start := time.Now()
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1))
				if i > n {
					return
				}
				d := store.Delivery{
					Body:         message(i, size, term, every),
					InternalDate: base.Add(time.Duration(i) * time.Minute),
					Targets:      []store.Target{{AccountID: acct.ID, Mailbox: mailbox}},
				}
				if _, err := st.Deliver(ctx, d); err != nil {
					errs <- fmt.Errorf("message %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	fmt.Printf("scalefill: %d messages into %s/%s in %.1f s\n", n, account, mailbox, time.Since(start).Seconds())
	return nil
}

var words = strings.Fields("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima " +
	"mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu")

func message(i, size int, term string, every int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: Sender %d <sender%d@example.org>\r\nTo: alice@example.test\r\n", i%97, i%97)
	fmt.Fprintf(&b, "Subject: scale message %d\r\nMessage-ID: <scale-%d@example.org>\r\n", i, i)
	fmt.Fprintf(&b, "Date: Mon, 01 Jan 2024 00:00:00 +0000\r\nX-Scale: %d\r\n\r\n", i)
	if every > 0 && i%every == 0 {
		b.WriteString(term + "\r\n")
	}
	for k := 0; b.Len() < size; k++ {
		b.WriteString(words[(i+k*7)%len(words)])
		if k%10 == 9 {
			b.WriteString("\r\n")
		} else {
			b.WriteByte(' ')
		}
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}
