package smtpclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"

	"github.com/posthorn/posthorn/internal/smtp"
)

// TLSMode says what to do about STARTTLS.
type TLSMode int

const (
	// TLSOpportunistic uses STARTTLS when the server offers it, without
	// checking its certificate unless TLSConfig says how (VerifyConnection
	// or no InsecureSkipVerify); plaintext otherwise.
	TLSOpportunistic TLSMode = iota
	// TLSRequired fails the connection (ErrTLSRequired) when the server
	// offers no STARTTLS or the handshake fails.
	TLSRequired
	// TLSNone never starts TLS.
	TLSNone
)

// Options configure Dial.
type Options struct {
	// Hostname is our name in EHLO (RFC 5321 §4.1.1.1).
	Hostname string
	// Dialer makes the TCP connection (source address, timeout). Nil
	// means a net.Dialer with a 30 s timeout.
	Dialer *net.Dialer
	// TLS says whether to use STARTTLS; TLSConfig is the configuration
	// (ServerName, verification). A nil TLSConfig means no verification
	// (opportunistic encryption, RFC 7435) with the MX host as SNI.
	TLS       TLSMode
	TLSConfig *tls.Config
	// Auth, when set, authenticates after TLS (RFC 4954). AUTH is never
	// sent over plaintext.
	Auth sasl.Client
	// CommandTimeout bounds the wait for each reply (RFC 5321 §4.5.3.2
	// suggests minutes); DataTimeout the reply after the message data.
	// Zero means 5 and 10 minutes.
	CommandTimeout time.Duration
	DataTimeout    time.Duration
}

// Error is a failure that ends the connection: it could not be set up, or
// broke (I/O, timeout, 421, malformed reply). Reply is set when the server
// said why.
type Error struct {
	// Stage is where it failed: "connect", "greeting", "ehlo", "starttls",
	// "tls", "auth", "mail", "rcpt", "data", "rset".
	Stage string
	Reply *smtp.Reply
	Err   error
}

func (e *Error) Error() string {
	if e.Reply != nil {
		return e.Stage + ": " + e.Reply.String()
	}
	return e.Stage + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Permanent reports whether the server refused us for good (a 5xx reply
// at greeting, EHLO or AUTH): trying later will not help.
func (e *Error) Permanent() bool { return e.Reply != nil && e.Reply.Permanent() }

// ErrTLSRequired: TLS was required but the server does not offer STARTTLS
// or the handshake failed.
var ErrTLSRequired = errors.New("TLS required but not available")

// Conn is one open SMTP connection.
type Conn struct {
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	opts Options
	ext  map[string]string // EHLO keywords (upper case) → parameters
	tls  *tls.ConnectionState
	// Greeting and EHLO replies, for logs.
	Greeting string
	// Used counts the transactions sent.
	Used int
}

// Dial connects to addr (ip:port) and sets the session up. serverName is
// the MX host name, used for SNI and certificate checks.
func Dial(ctx context.Context, addr, serverName string, opts Options) (*Conn, error) {
	if opts.CommandTimeout <= 0 {
		opts.CommandTimeout = 5 * time.Minute
	}
	if opts.DataTimeout <= 0 {
		opts.DataTimeout = 10 * time.Minute
	}
	d := opts.Dialer
	if d == nil {
		d = &net.Dialer{Timeout: 30 * time.Second}
	}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, &Error{Stage: "connect", Err: err}
	}
	c := &Conn{conn: nc, opts: opts}
	c.setConn(nc)
	if err := c.setup(ctx, serverName); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

func (c *Conn) setConn(nc net.Conn) {
	c.conn = nc
	c.r = bufio.NewReaderSize(nc, 4096)
	c.w = bufio.NewWriterSize(nc, 32<<10)
}

func (c *Conn) setup(ctx context.Context, serverName string) error {
	rep, err := c.read(ctx, "greeting", c.opts.CommandTimeout)
	if err != nil {
		return err
	}
	if rep.Code != 220 {
		return &Error{Stage: "greeting", Reply: rep}
	}
	c.Greeting = rep.Text
	if err := c.hello(ctx); err != nil {
		return err
	}
	_, offersTLS := c.ext["STARTTLS"]
	switch {
	case c.opts.TLS == TLSNone:
	case offersTLS:
		if err := c.startTLS(ctx, serverName); err != nil {
			return err
		}
	case c.opts.TLS == TLSRequired:
		return &Error{Stage: "starttls", Err: fmt.Errorf("%w: STARTTLS not offered", ErrTLSRequired)}
	}
	if c.opts.Auth != nil {
		if c.tls == nil {
			return &Error{Stage: "auth", Err: errors.New("AUTH refused without TLS")}
		}
		if err := c.auth(ctx); err != nil {
			return err
		}
	}
	return nil
}

// hello sends EHLO, and HELO when the server does not know EHLO.
func (c *Conn) hello(ctx context.Context) error {
	name := c.opts.Hostname
	if name == "" {
		name = "localhost"
	}
	rep, lines, err := c.cmdLines(ctx, "ehlo", "EHLO "+name)
	if err != nil {
		return err
	}
	if rep.Code == 250 {
		c.ext = map[string]string{}
		for _, l := range lines[1:] {
			k, v, _ := strings.Cut(l, " ")
			c.ext[strings.ToUpper(k)] = v
		}
		return nil
	}
	if rep.Code != 500 && rep.Code != 502 && rep.Code != 504 && rep.Code != 550 {
		return &Error{Stage: "ehlo", Reply: rep}
	}
	rep, err = c.cmd(ctx, "ehlo", "HELO "+name)
	if err != nil {
		return err
	}
	if rep.Code != 250 {
		return &Error{Stage: "ehlo", Reply: rep}
	}
	c.ext = map[string]string{}
	return nil
}

func (c *Conn) startTLS(ctx context.Context, serverName string) error {
	rep, err := c.cmd(ctx, "starttls", "STARTTLS")
	if err != nil {
		return err
	}
	if rep.Code != 220 {
		if c.opts.TLS == TLSRequired {
			return &Error{Stage: "starttls", Reply: rep, Err: ErrTLSRequired}
		}
		return nil // opportunistic: carry on in plaintext (RFC 3207 §4.1)
	}
	cfg := c.opts.TLSConfig
	if cfg == nil {
		cfg = &tls.Config{InsecureSkipVerify: true}
	} else {
		cfg = cfg.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = serverName
	}
	tc := tls.Client(c.conn, cfg)
	hctx, cancel := context.WithTimeout(ctx, c.opts.CommandTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		return &Error{Stage: "tls", Err: fmt.Errorf("%w: %w", ErrTLSRequired, err)}
	}
	st := tc.ConnectionState()
	c.tls = &st
	c.setConn(tc)
	// RFC 3207 §4.2: forget what the server said before TLS.
	return c.hello(ctx)
}

func (c *Conn) auth(ctx context.Context) error {
	mech, ir, err := c.opts.Auth.Start()
	if err != nil {
		return &Error{Stage: "auth", Err: err}
	}
	line := "AUTH " + mech
	if ir != nil {
		enc := "="
		if len(ir) > 0 {
			enc = base64.StdEncoding.EncodeToString(ir)
		}
		line += " " + enc
	}
	for range 10 {
		rep, err := c.cmd(ctx, "auth", line)
		if err != nil {
			return err
		}
		switch rep.Code {
		case 235:
			return nil
		case 334:
			chal, err := base64.StdEncoding.DecodeString(rep.Text)
			if err != nil {
				return &Error{Stage: "auth", Err: fmt.Errorf("bad challenge: %w", err)}
			}
			resp, err := c.opts.Auth.Next(chal)
			if err != nil {
				return &Error{Stage: "auth", Err: err}
			}
			line = base64.StdEncoding.EncodeToString(resp)
		default:
			return &Error{Stage: "auth", Reply: rep}
		}
	}
	return &Error{Stage: "auth", Err: errors.New("too many challenges")}
}

// Extension reports whether the server announced keyword in EHLO, and its
// parameters.
func (c *Conn) Extension(keyword string) (string, bool) {
	v, ok := c.ext[strings.ToUpper(keyword)]
	return v, ok
}

// TLS returns the TLS state, nil when the connection is plaintext.
func (c *Conn) TLS() *tls.ConnectionState { return c.tls }

// RemoteAddr is the server's address.
func (c *Conn) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

// maxSize returns the server's SIZE limit, 0 when none was declared.
func (c *Conn) maxSize() int64 {
	v, ok := c.ext["SIZE"]
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// Close sends QUIT (waiting briefly for the answer) and closes.
func (c *Conn) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.cmd(ctx, "quit", "QUIT")
	return c.conn.Close()
}

// Abort closes the connection without QUIT.
func (c *Conn) Abort() error { return c.conn.Close() }

// cmd sends one command line and reads its reply.
func (c *Conn) cmd(ctx context.Context, stage, line string) (*smtp.Reply, error) {
	rep, _, err := c.cmdLines(ctx, stage, line)
	return rep, err
}

func (c *Conn) cmdLines(ctx context.Context, stage, line string) (*smtp.Reply, []string, error) {
	c.w.WriteString(line)
	c.w.WriteString("\r\n")
	if err := c.flush(ctx, stage); err != nil {
		return nil, nil, err
	}
	return c.readLines(ctx, stage, c.opts.CommandTimeout)
}

func (c *Conn) flush(ctx context.Context, stage string) error {
	stop := c.deadline(ctx, c.opts.CommandTimeout)
	defer stop()
	if err := c.w.Flush(); err != nil {
		return &Error{Stage: stage, Err: err}
	}
	return nil
}

func (c *Conn) read(ctx context.Context, stage string, timeout time.Duration) (*smtp.Reply, error) {
	rep, _, err := c.readLines(ctx, stage, timeout)
	return rep, err
}

// readLines reads a reply; a 421 (service closing, RFC 5321 §3.8) is an
// Error, as the connection is over.
func (c *Conn) readLines(ctx context.Context, stage string, timeout time.Duration) (*smtp.Reply, []string, error) {
	stop := c.deadline(ctx, timeout)
	defer stop()
	rep, lines, err := readReply(c.r)
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, nil, &Error{Stage: stage, Err: err}
	}
	if rep.Code == 421 {
		return nil, nil, &Error{Stage: stage, Reply: rep}
	}
	return rep, lines, nil
}

// deadline sets the connection deadline to timeout from now and makes
// ctx's cancellation interrupt the I/O; stop undoes the latter.
func (c *Conn) deadline(ctx context.Context, timeout time.Duration) (stop func()) {
	d := time.Now().Add(timeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		d = cd
	}
	c.conn.SetDeadline(d)
	unhook := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
	return func() { unhook() }
}
