package test

import (
	"fmt"
	"net/smtp"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDevModeIDLELatency delivers 50 messages over SMTP (MX port) while an
// IMAP connection IDLEs on INBOX, and measures the time from the SMTP 250
// after DATA to "* N EXISTS". The server may push EXISTS before the 250
// has reached the client (the commit wakes IDLE and the SMTP reply in
// parallel), so that figure is often 0; the time from the end of DATA
// (the client's final ".") includes the durable commit and is the one the
// bound applies to. The bound is generous (p99 under 1 s on a loaded
// machine); the figures are logged, and the benchmark (bench/imap.sh)
// records the real ones.
func TestDevModeIDLELatency(t *testing.T) {
	const deliveries = 50
	dir := filepath.Join(t.TempDir(), "dev")
	s := startDev(t, dir, loopbackIP(t))
	tg := devIMAPTarget(t, s)

	c := dialIMAPS(t, tg)
	n0 := existsIn(c.mustOK(time.Minute, "SELECT INBOX"))
	if n0 < 0 {
		t.Fatal("SELECT gave no EXISTS")
	}
	c.tag++
	fmt.Fprintf(c.conn, "q%d IDLE\r\n", c.tag)
	if l := c.response(time.Minute); !strings.HasPrefix(l, "+") {
		t.Fatalf("IDLE: %q", l)
	}
	type exists struct {
		n  int
		at time.Time
	}
	seen := make(chan exists, deliveries*2)
	c.conn.SetReadDeadline(time.Time{})
	go func() {
		for {
			line, err := c.r.ReadString('\n')
			if err != nil {
				close(seen)
				return
			}
			at := time.Now()
			if f := strings.Fields(line); len(f) == 3 && f[0] == "*" && f[2] == "EXISTS" {
				n, _ := strconv.Atoi(f[1])
				seen <- exists{n, at}
			}
		}
	}()

	sc, err := smtp.Dial(s.smtpAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if err := sc.Hello("idle-test.example.org"); err != nil {
		t.Fatal(err)
	}
	var lat, fromData []time.Duration
	for i := 1; i <= deliveries; i++ {
		atDot, at250 := deliverOne(t, sc, tg.user, i)
		var got exists
		for got.n < n0+i {
			select {
			case e, ok := <-seen:
				if !ok {
					t.Fatal("IMAP connection closed during IDLE")
				}
				got = e
			case <-time.After(30 * time.Second):
				t.Fatalf("delivery %d: no * %d EXISTS within 30 s of the SMTP 250", i, n0+i)
			}
		}
		if got.n > n0+i {
			t.Fatalf("delivery %d: * %d EXISTS, want %d", i, got.n, n0+i)
		}
		lat = append(lat, max(0, got.at.Sub(at250)))
		fromData = append(fromData, got.at.Sub(atDot))
	}
	sc.Quit()
	fmt.Fprintf(c.conn, "DONE\r\n")

	p50, p99 := percentiles(lat)
	d50, d99 := percentiles(fromData)
	t.Logf("IDLE push over %d deliveries: SMTP 250 -> * N EXISTS median %v p99 %v (0 = EXISTS came first); "+
		"end of DATA -> * N EXISTS median %v p99 %v", deliveries, p50, p99, d50, d99)
	if d99 > time.Second {
		t.Errorf("IDLE push p99 from the end of DATA %v, want under 1 s", d99)
	}
	if err := s.stop(syscall.SIGTERM); err != nil {
		t.Errorf("dev mode did not exit cleanly: %v", err)
	}
}

// percentiles returns the median and the 99th percentile of d (sorted in place).
func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	slices.Sort(d)
	return d[len(d)/2], d[(len(d)*99+99)/100-1]
}

// deliverOne sends message i to rcpt on an open SMTP session and returns
// the moments the final "." of DATA was sent and its 250 read.
func deliverOne(t *testing.T, sc *smtp.Client, rcpt string, i int) (atDot, at250 time.Time) {
	t.Helper()
	if err := sc.Mail("probe@example.org"); err != nil {
		t.Fatal(err)
	}
	if err := sc.Rcpt(rcpt); err != nil {
		t.Fatal(err)
	}
	w, err := sc.Data()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(w, "From: probe@example.org\r\nTo: %s\r\nSubject: idle latency %d\r\n\r\nbody %d\r\n", rcpt, i, i)
	atDot = time.Now()
	if err := w.Close(); err != nil {
		t.Fatalf("DATA of message %d: %v", i, err)
	}
	return atDot, time.Now()
}
