package smtpclient

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// scripted runs a fake server on loopback: it greets, then for each step
// reads the given number of command lines (all before answering: a client
// that waits for replies between them would stall) and writes the reply.
type step struct {
	read  int
	reply string
}

func scripted(t *testing.T, ehlo string, steps []step) (addr string, got chan []string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got = make(chan []string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(c)
		var lines []string
		c.Write([]byte("220 test ESMTP\r\n"))
		all := append([]step{{1, ehlo}}, steps...)
		for _, s := range all {
			for range s.read {
				l, err := r.ReadString('\n')
				if err != nil {
					got <- lines
					return
				}
				lines = append(lines, strings.TrimRight(l, "\r\n"))
				if strings.TrimRight(l, "\r\n") == "." || strings.HasPrefix(l, "DATA") && s.reply == "" {
					break
				}
			}
			if strings.HasPrefix(s.reply, "<data>") {
				// read message data up to the dot line
				for {
					l, err := r.ReadString('\n')
					if err != nil {
						got <- lines
						return
					}
					lines = append(lines, strings.TrimRight(l, "\r\n"))
					if l == ".\r\n" {
						break
					}
				}
				s.reply = strings.TrimPrefix(s.reply, "<data>")
			}
			c.Write([]byte(s.reply))
		}
		got <- lines
	}()
	return ln.Addr().String(), got
}

func dialTest(t *testing.T, addr string) *Conn {
	t.Helper()
	c, err := Dial(context.Background(), addr, "mx.test", Options{Hostname: "mail.example.org", TLS: TLSNone, CommandTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPipelinedTransaction(t *testing.T) {
	addr, got := scripted(t, "250-test\r\n250-PIPELINING\r\n250-SIZE 100000\r\n250 8BITMIME\r\n", []step{
		// MAIL, 3 RCPT, DATA in one go; then the data.
		{5, "250 2.1.0 ok\r\n250 2.1.5 ok\r\n550-5.1.1 no such\r\n550 5.1.1 user\r\n250 2.1.5 ok\r\n354 go on\r\n"},
		{0, "<data>250 2.0.0 queued as X\r\n"},
		{1, "221 bye\r\n"},
	})
	c := dialTest(t, addr)
	replies, err := c.Send(context.Background(), Envelope{From: "a@example.org", To: []string{"x@r.test", "y@r.test", "z@r.test"}},
		[]byte("Subject: hi\r\n\r\n.dot\r\nlast line without CRLF"))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	want := []string{"250 2.0.0 queued as X", "550 5.1.1 no such user", "250 2.0.0 queued as X"}
	for i, r := range replies {
		if r.String() != want[i] {
			t.Errorf("reply %d = %q, want %q", i, r, want[i])
		}
	}
	lines := <-got
	wantLines := []string{"EHLO mail.example.org", "MAIL FROM:<a@example.org> SIZE=43", "RCPT TO:<x@r.test>", "RCPT TO:<y@r.test>", "RCPT TO:<z@r.test>", "DATA",
		"Subject: hi", "", "..dot", "last line without CRLF", ".", "QUIT"}
	if strings.Join(lines, "|") != strings.Join(wantLines, "|") {
		t.Errorf("server got\n%q\nwant\n%q", lines, wantLines)
	}
}

func TestUnpipelinedAndLimits(t *testing.T) {
	addr, got := scripted(t, "250-test\r\n250 SIZE 20\r\n", []step{
		{1, "250 ok\r\n"}, // MAIL
		{1, "451 4.3.0 later\r\n"},
		{1, "250 ok\r\n"},
		{1, "354 go\r\n"},
		{0, "<data>554 5.6.0 no thanks\r\n"},
		{1, "421 4.3.2 going away\r\n"}, // the next MAIL
	})
	c := dialTest(t, addr)
	// Over the declared SIZE: failed at once, nothing sent.
	replies, err := c.Send(context.Background(), Envelope{From: "a@example.org", To: []string{"x@r.test"}}, []byte(strings.Repeat("x", 21)))
	if err != nil || replies[0] != ReplyTooBig {
		t.Fatalf("oversize: %v, %v", replies, err)
	}
	// SMTPUTF8 needed, not offered: failed at once.
	replies, err = c.Send(context.Background(), Envelope{From: "a@example.org", To: []string{"ü@r.test"}, UTF8: true}, []byte("x"))
	if err != nil || replies[0] != ReplyNoSMTPUTF8 {
		t.Fatalf("SMTPUTF8: %v, %v", replies, err)
	}
	// 8-bit data, 8BITMIME not offered: failed at once (RFC 6152 §3).
	replies, err = c.Send(context.Background(), Envelope{From: "a@example.org", To: []string{"x@r.test"}}, []byte("Gr\xc3\xbc\xc3\x9fe\r\n"))
	if err != nil || replies[0] != ReplyNo8BITMIME {
		t.Fatalf("8-bit without 8BITMIME: %v, %v", replies, err)
	}
	replies, err = c.Send(context.Background(), Envelope{From: "", To: []string{"x@r.test", "y@r.test"}}, []byte("hi\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if replies[0].String() != "451 4.3.0 later" || replies[1].String() != "554 5.6.0 no thanks" {
		t.Errorf("replies %v", replies)
	}
	// 421: the connection is over.
	_, err = c.Send(context.Background(), Envelope{From: "a@example.org", To: []string{"x@r.test"}}, []byte("hi\r\n"))
	var e *Error
	if err == nil || !errorsAs(err, &e) || e.Reply == nil || e.Reply.Code != 421 {
		t.Errorf("after 421: %v", err)
	}
	c.Abort()
	lines := <-got
	if lines[1] != "MAIL FROM:<> SIZE=4" || lines[4] != "DATA" {
		t.Errorf("lines %q", lines)
	}
}

func TestContextInterruptsRead(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			time.Sleep(5 * time.Second) // never greets
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = Dial(ctx, ln.Addr().String(), "mx.test", Options{TLS: TLSNone})
	if err == nil || time.Since(start) > 3*time.Second {
		t.Errorf("Dial to a silent server: %v after %v", err, time.Since(start))
	}
}
