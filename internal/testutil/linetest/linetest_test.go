package linetest

import (
	"net"
	"strings"
	"testing"
	"time"
)

// serve accepts one connection and answers it with script, the server
// side of the conversation, whatever the client sends; then it closes.
func serve(t *testing.T, script string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		nc, err := l.Accept()
		if err != nil {
			return
		}
		nc.Write([]byte(script))
		nc.Close()
	}()
	return l.Addr().String()
}

// TestReadsLinesAndReplies: lines and multi-line SMTP replies come back
// without CRLF, and the closed connection is seen as closed.
func TestReadsLinesAndReplies(t *testing.T) {
	c := Dial(t, serve(t, "+OK hello\r\n250-one\r\n250 two\r\n"), 10*time.Second)
	if got := c.Expect("+OK"); got != "+OK hello" {
		t.Errorf("Expect = %q", got)
	}
	if got := c.ExpectReplyLines("250 "); strings.Join(got, "|") != "250-one|250 two" {
		t.Errorf("ExpectReplyLines = %q", got)
	}
	c.ExpectClosed()
}

// TestReplyRejectsMalformed: a reply line without CRLF, or without a
// code and separator, is an error, not a reply.
func TestReplyRejectsMalformed(t *testing.T) {
	for _, script := range []string{"250 ok\n", "250ok\r\n", "25\r\n", "250-more\r\n"} {
		c := Dial(t, serve(t, script), 10*time.Second)
		if lines, err := c.Reply(); err == nil {
			t.Errorf("%q: Reply = %q, want an error", script, lines)
		}
	}
}
