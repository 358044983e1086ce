package test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/textproto"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	_ "modernc.org/sqlite"

	"github.com/posthorn/posthorn/internal/daemon"
	"github.com/posthorn/posthorn/internal/store"
)

// TestCrashSafetySIGKILL kills the server with SIGKILL several times while
// ten clients send, restarts it each time, and proves that every message
// that got a 250 is stored exactly once and that the store opens cleanly.
// With POSTHORN_TEST_STORE=postgres (test.sh's second run) the store is a
// PostgreSQL database, where a 250 must wait for its group commit.
//
// Each send attempt carries its own token. A message whose 250 was lost in a
// crash is sent again under a new token, so a token stored without its 250
// is allowed (the commit happened, the reply did not); an acknowledged token
// stored zero or two times is a failure.
func TestCrashSafetySIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("long test")
	}
	const (
		total   = 2000
		clients = 10
		kills   = 4
	)
	dir := filepath.Join(t.TempDir(), "dev")
	addr := loopbackIP(t)
	srv := startDev(t, dir, addr)
	target := srv.smtpAddr()

	var acked sync.Map // token -> true
	var ackCount atomic.Int64
	var attempted sync.Map
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	queue := make(chan int, total)
	for i := 0; i < total; i++ {
		queue <- i
	}
	close(queue)

	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			var cl *smtp.Client
			defer func() {
				if cl != nil {
					cl.Close()
				}
			}()
			for idx := range queue {
				for attempt := 0; ; attempt++ {
					if ctx.Err() != nil {
						errs <- fmt.Errorf("client %d: gave up on message %d: %v", c, idx, ctx.Err())
						return
					}
					token := fmt.Sprintf("m%04d-a%d", idx, attempt)
					attempted.Store(token, true)
					if cl == nil {
						cl = dialRetry(ctx, target)
						if cl == nil {
							continue
						}
					}
					if err := sendOne(cl, token); err != nil {
						cl.Close()
						cl = nil
						continue
					}
					acked.Store(token, true)
					ackCount.Add(1)
					break
				}
			}
		}(c)
	}

	// The killer: SIGKILL at evenly spaced points of progress, restart.
	for k := 1; k <= kills; k++ {
		want := int64(total * k / (kills + 1))
		for ackCount.Load() < want {
			if ctx.Err() != nil {
				t.Fatalf("only %d of %d messages acknowledged before the deadline\n%s", ackCount.Load(), total, srv.out)
			}
			time.Sleep(5 * time.Millisecond)
		}
		srv.stop(syscall.SIGKILL)
		srv = startDev(t, dir, addr)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := srv.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("final SIGTERM: %v\n%s", err, srv.out)
	}

	checkSQLiteIntegrity(t, dir)
	st := openDevStore(t, dir)
	defer st.Close()
	stored := storedTokens(t, st, "alice@example.test")

	missing, dup, unacked := 0, 0, 0
	acked.Range(func(k, _ any) bool {
		switch n := stored[k.(string)]; {
		case n == 0:
			missing++
			if missing <= 5 {
				t.Errorf("acknowledged message %s is not in the store", k)
			}
		case n > 1:
			dup++
			t.Errorf("acknowledged message %s is stored %d times", k, n)
		}
		return true
	})
	for tok, n := range stored {
		if _, ok := attempted.Load(tok); !ok {
			t.Errorf("store holds %s, which no client sent", tok)
		}
		if _, ok := acked.Load(tok); !ok {
			unacked += n
		}
	}
	t.Logf("%d messages acknowledged over %d kills; %d stored without their 250 (commit before the crash, reply lost); missing %d, duplicated %d",
		ackCount.Load(), kills, unacked, missing, dup)
	if ackCount.Load() != total {
		t.Errorf("acknowledged %d, want %d", ackCount.Load(), total)
	}
}

// checkSQLiteIntegrity runs SQLite's integrity check on the embedded
// store of the dev directory dir, unless its store is PostgreSQL.
func checkSQLiteIntegrity(t *testing.T, dir string) {
	t.Helper()
	if _, onPostgres := devDSNs.Load(dir); onPostgres {
		return
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "data", daemon.StoreFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var check string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check: %q, %v", check, err)
	}
}

func dialRetry(ctx context.Context, addr string) *smtp.Client {
	for ctx.Err() == nil {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c := smtp.NewClient(conn)
			if err := c.Hello("client.example.org"); err == nil {
				return c
			}
			c.Close()
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

func sendOne(c *smtp.Client, token string) error {
	if err := c.Mail("sender@client.example.org", nil); err != nil {
		return err
	}
	if err := c.Rcpt("alice@example.test", nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "From: sender@client.example.org\r\nTo: alice@example.test\r\nSubject: %s\r\nMessage-ID: <%s@client.example.org>\r\n\r\n", token, token)
	for i := 0; i < 10; i++ {
		fmt.Fprintf(w, "line %d of the crash-safety message %s, padded to be a realistic size.\r\n", i, token)
	}
	return w.Close()
}

// storedTokens counts the messages in an account's INBOX by Subject.
func storedTokens(t *testing.T, st store.Store, account string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for i, body := range inboxBodies(t, st, account) {
		h, err := textproto.NewReader(bufio.NewReader(strings.NewReader(body))).ReadMIMEHeader()
		if err != nil {
			t.Fatalf("message %d has a broken header: %v", i+1, err)
		}
		out[strings.TrimSpace(h.Get("Subject"))]++
	}
	return out
}
