package test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawIMAP is a minimal IMAP client over implicit TLS for tests that time
// single commands or read a stream of untagged responses (IDLE): every
// response is one string, with literals inlined.
type rawIMAP struct {
	t    *testing.T
	conn *tls.Conn
	r    *bufio.Reader
	tag  int
}

func dialIMAPS(t *testing.T, tg imapTarget) *rawIMAP {
	t.Helper()
	conn, err := tls.Dial("tcp", tg.addr, tg.tls)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &rawIMAP{t: t, conn: conn, r: bufio.NewReaderSize(conn, 64<<10)}
	if g := c.response(time.Minute); !strings.HasPrefix(g, "* OK") {
		t.Fatalf("greeting %q", g)
	}
	if _, st := c.cmd(time.Minute, "LOGIN %s %s", quoteIMAP(tg.user), quoteIMAP(tg.pass)); !strings.HasPrefix(st, "OK") {
		t.Fatalf("LOGIN: %s", st)
	}
	return c
}

func quoteIMAP(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// response reads one response line, with any literals it carries inlined.
func (c *rawIMAP) response(limit time.Duration) string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(limit))
	var b strings.Builder
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("reading a response: %v (so far %q)", err, b.String())
		}
		b.WriteString(line)
		n, ok := literalSize(line)
		if !ok {
			return strings.TrimRight(b.String(), "\r\n")
		}
		if _, err := io.CopyN(&b, c.r, n); err != nil {
			c.t.Fatalf("reading a literal: %v", err)
		}
	}
}

// literalSize reports the size of the literal announced at the end of line.
func literalSize(line string) (int64, bool) {
	line = strings.TrimRight(line, "\r\n")
	if !strings.HasSuffix(line, "}") {
		return 0, false
	}
	i := strings.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSuffix(line[i+1:len(line)-1], "+"), 10, 64)
	return n, err == nil
}

// cmd sends one command and returns its untagged responses and the tagged
// status text ("OK ...", "NO ...", "BAD ...").
func (c *rawIMAP) cmd(limit time.Duration, format string, args ...any) (untagged []string, status string) {
	c.t.Helper()
	c.tag++
	tag := fmt.Sprintf("q%d", c.tag)
	c.conn.SetWriteDeadline(time.Now().Add(limit))
	if _, err := fmt.Fprintf(c.conn, tag+" "+format+"\r\n", args...); err != nil {
		c.t.Fatal(err)
	}
	deadline := time.Now().Add(limit)
	for {
		l := c.response(time.Until(deadline))
		if rest, ok := strings.CutPrefix(l, tag+" "); ok {
			return untagged, rest
		}
		untagged = append(untagged, l)
	}
}

// mustOK is cmd that fails the test unless the command answers OK.
func (c *rawIMAP) mustOK(limit time.Duration, format string, args ...any) []string {
	c.t.Helper()
	u, st := c.cmd(limit, format, args...)
	if !strings.HasPrefix(st, "OK") {
		c.t.Fatalf("%s: %s", fmt.Sprintf(format, args...), st)
	}
	return u
}

// existsIn returns N of the last "* N EXISTS" among responses, or -1.
func existsIn(responses []string) int {
	n := -1
	for _, l := range responses {
		f := strings.Fields(l)
		if len(f) == 3 && f[0] == "*" && f[2] == "EXISTS" {
			n, _ = strconv.Atoi(f[1])
		}
	}
	return n
}

// procMemKiB reads VmRSS and VmHWM (peak) of a process, in KiB.
func procMemKiB(t *testing.T, pid int) (rss, peak int64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && (f[0] == "VmRSS:" || f[0] == "VmHWM:") {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			if f[0] == "VmRSS:" {
				rss = v
			} else {
				peak = v
			}
		}
	}
	return rss, peak
}
