package sendmail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// Timeout bounds the whole conversation with the server.
const Timeout = 5 * time.Minute

// Envelope is what the command submits.
type Envelope struct {
	// Sender is the envelope sender, "" for the null sender; a bare
	// local part is completed with the server's host name.
	Sender string
	// FullName is the display name of the From: field added (from
	// Sender) when the message has none.
	FullName string
	// Recipients are completed like Sender.
	Recipients []string
}

// Submit hands msg to the local submission socket at path. The server's
// host name (from its greeting) completes bare local parts. Every
// recipient must be accepted or nothing is sent, so a caller that
// retries after an error never sends twice.
func Submit(ctx context.Context, path string, env Envelope, msg *Message) error {
	d := net.Dialer{Timeout: 30 * time.Second}
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return err
	}
	gc := &greetingConn{Conn: nc}
	nc.SetDeadline(time.Now().Add(Timeout))
	c := gosmtp.NewClient(gc)
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return err
	}
	host := gc.host()
	sender := qualify(env.Sender, host)
	msg.AddFrom(env.FullName, sender)
	body := msg.Bytes()

	mo := &gosmtp.MailOptions{}
	if ok, _ := c.Extension("8BITMIME"); ok && !isASCII(body) {
		mo.Body = gosmtp.Body8BitMIME
	}
	utf8 := !isASCII([]byte(sender))
	for _, r := range env.Recipients {
		utf8 = utf8 || !isASCII([]byte(r))
	}
	if utf8 {
		mo.UTF8 = true
	}
	if err := c.Mail(sender, mo); err != nil {
		return replyError("sender <"+sender+">", err)
	}
	for _, r := range env.Recipients {
		r = qualify(r, host)
		if err := c.Rcpt(r, nil); err != nil {
			c.Reset()
			return replyError("recipient <"+r+">", err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return replyError("message", err)
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return replyError("message", err)
	}
	c.Quit()
	return nil
}

// ReplyError is the server's refusal of the sender, a recipient or the
// message.
type ReplyError struct {
	What  string // "sender <a@b>", "recipient <c@d>", "message"
	Reply *gosmtp.SMTPError
}

func (e *ReplyError) Error() string {
	r := e.Reply
	s := fmt.Sprintf("%s refused: %d", e.What, r.Code)
	if r.EnhancedCode != gosmtp.NoEnhancedCode && r.EnhancedCode != (gosmtp.EnhancedCode{}) {
		s += fmt.Sprintf(" %d.%d.%d", r.EnhancedCode[0], r.EnhancedCode[1], r.EnhancedCode[2])
	}
	return s + " " + r.Message
}

func (e *ReplyError) Unwrap() error { return e.Reply }

// replyError wraps the server's SMTP reply; other errors (a dropped
// connection) pass unchanged.
func replyError(what string, err error) error {
	var se *gosmtp.SMTPError
	if errors.As(err, &se) {
		return &ReplyError{What: what, Reply: se}
	}
	return err
}

// qualify completes a bare local part ("www-data") with host.
func qualify(addr, host string) string {
	if addr == "" || strings.Contains(addr, "@") || host == "" {
		return addr
	}
	return addr + "@" + host
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// greetingConn keeps the first line the server sends, its greeting
// ("220 mail.example.com ESMTP ..."), which names the server's host.
type greetingConn struct {
	net.Conn
	mu    sync.Mutex
	first []byte
	done  bool
}

func (g *greetingConn) Read(b []byte) (int, error) {
	n, err := g.Conn.Read(b)
	g.mu.Lock()
	if !g.done {
		g.first = append(g.first, b[:n]...)
		if i := bytes.IndexByte(g.first, '\n'); i >= 0 {
			g.first, g.done = g.first[:i], true
		} else if len(g.first) > 1024 {
			g.done = true
		}
	}
	g.mu.Unlock()
	return n, err
}

// host is the host name in the greeting, "" when there is none.
func (g *greetingConn) host() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	line := strings.TrimSpace(string(g.first))
	if len(line) < 4 || !strings.HasPrefix(line, "220") {
		return ""
	}
	fields := strings.Fields(line[4:])
	if len(fields) == 0 || !isHostName(fields[0]) {
		return ""
	}
	return fields[0]
}

// isHostName accepts letters, digits, dots and hyphens: nothing that
// could change the meaning of an address it completes.
func isHostName(s string) bool {
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return s != ""
}
