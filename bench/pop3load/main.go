// Command pop3load is the POP3 load generator of bench/pop3.sh, and a
// stand-alone posthorn POP3 server to point it at until the daemon serves
// POP3 itself.
//
//	pop3load serve -addr 127.0.0.5:10110 -dir DIR -n 200 -kb 10 -users alice@example.test:PW,...
//	pop3load retr  -addr HOST:PORT -users USER:PW,... -duration 10s
//	pop3load login -addr HOST:PORT -users USER:PW,... -duration 10s
//
// retr runs one session per user entry: log in once, RETR the messages
// round and round (pipelined 16 at a time) until the time is up, QUIT.
// login runs one connection per user entry at a time: greeting, USER,
// PASS, QUIT.
// Both print one key=value line.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type user struct{ name, password string }

func parseUsers(s string) ([]user, error) {
	var out []user
	for _, f := range strings.Split(s, ",") {
		name, pw, ok := strings.Cut(f, ":")
		if !ok || name == "" {
			return nil, fmt.Errorf("bad user %q, want NAME:PASSWORD", f)
		}
		out = append(out, user{name, pw})
	}
	return out, nil
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: pop3load serve|retr|login [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:2110", "server `host:port`")
	usersFlag := fs.String("users", "alice@example.test:alice-Pw-7f3k2,bob@example.test:bob-Pw-9q4m8", "`NAME:PW,...`")
	duration := fs.Duration("duration", 10*time.Second, "how long to load")
	label := fs.String("label", "", "label for the result line")
	dir := fs.String("dir", "", "serve: data directory")
	n := fs.Int("n", 200, "serve: messages per user")
	kb := fs.Int("kb", 10, "serve: message size in KiB")
	authCache := fs.Bool("authcache", false, "serve: remember verified passwords (see docs/BENCHMARKS.md)")
	fs.Parse(os.Args[2:])
	users, err := parseUsers(*usersFlag)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		err = serve(*addr, *dir, users, *n, *kb, *authCache)
	case "retr", "login":
		err = load(os.Args[1], *addr, users, *duration, *label)
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pop3load:", err)
		os.Exit(1)
	}
}

// load runs one worker per user for d and prints the rates.
func load(mode, addr string, users []user, d time.Duration, label string) error {
	var ops, msgs, octets, errs atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	var firstErr atomic.Value
	for _, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				var err error
				if mode == "login" {
					err = loginOnce(addr, u)
				} else {
					err = retrLoop(ctx, addr, u, &msgs, &octets)
				}
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					time.Sleep(10 * time.Millisecond)
					continue
				}
				ops.Add(1)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	fmt.Printf("pop3load mode=%s label=%s sessions=%d seconds=%.1f ops=%d ops_per_s=%.1f msgs_per_s=%.1f mb_per_s=%.2f errors=%d\n",
		mode, label, len(users), el, ops.Load(), float64(ops.Load())/el, float64(msgs.Load())/el,
		float64(octets.Load())/el/1e6, errs.Load())
	if e := firstErr.Load(); e != nil {
		fmt.Fprintln(os.Stderr, "first error:", e)
	}
	return nil
}

type conn struct {
	nc net.Conn
	r  *bufio.Reader
	w  *bufio.Writer
}

func dial(addr string) (*conn, error) {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	nc.SetDeadline(time.Now().Add(60 * time.Second))
	c := &conn{nc: nc, r: bufio.NewReaderSize(nc, 64<<10), w: bufio.NewWriter(nc)}
	if _, err := c.status(); err != nil {
		nc.Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	return c, nil
}

// status reads a status line and fails on -ERR.
func (c *conn) status() (string, error) {
	l, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(l, "+OK") {
		return "", errors.New(strings.TrimSpace(l))
	}
	return l, nil
}

func (c *conn) cmd(line string) (string, error) {
	c.w.WriteString(line + "\r\n")
	if err := c.w.Flush(); err != nil {
		return "", err
	}
	return c.status()
}

// multi reads a multi-line body and returns its size on the wire.
func (c *conn) multi() (int64, error) {
	var n int64
	for {
		l, err := c.r.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return n, err
		}
		if bytes.Equal(l, []byte(".\r\n")) {
			return n, nil
		}
		n += int64(len(l))
	}
}

func login(addr string, u user) (*conn, error) {
	c, err := dial(addr)
	if err != nil {
		return nil, err
	}
	if _, err := c.cmd("USER " + u.name); err != nil {
		c.nc.Close()
		return nil, fmt.Errorf("USER: %w", err)
	}
	if _, err := c.cmd("PASS " + u.password); err != nil {
		c.nc.Close()
		return nil, fmt.Errorf("PASS: %w", err)
	}
	return c, nil
}

func loginOnce(addr string, u user) error {
	c, err := login(addr, u)
	if err != nil {
		return err
	}
	defer c.nc.Close()
	_, err = c.cmd("QUIT")
	return err
}

// retrLoop logs in once and RETRs the messages round and round, 16
// commands in flight, until ctx ends; then QUIT. The login is not timed
// into the rate: login has its own mode.
func retrLoop(ctx context.Context, addr string, u user, msgs, octets *atomic.Int64) error {
	c, err := login(addr, u)
	if err != nil {
		return err
	}
	defer c.nc.Close()
	st, err := c.cmd("STAT")
	if err != nil {
		return err
	}
	var count int
	fmt.Sscanf(st, "+OK %d", &count)
	if count == 0 {
		return errors.New("empty maildrop")
	}
	const window = 16
	sent, done := 0, 0
	for ctx.Err() == nil || done < sent {
		for ; ctx.Err() == nil && sent < done+window; sent++ {
			fmt.Fprintf(c.w, "RETR %d\r\n", sent%count+1)
		}
		if err := c.w.Flush(); err != nil {
			return err
		}
		c.nc.SetDeadline(time.Now().Add(60 * time.Second))
		if _, err := c.status(); err != nil {
			return fmt.Errorf("RETR: %w", err)
		}
		n, err := c.multi()
		if err != nil {
			return err
		}
		done++
		msgs.Add(1)
		octets.Add(n)
	}
	if _, err := c.cmd("QUIT"); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}
