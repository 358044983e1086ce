package smtpserver

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"

	gosmtp "github.com/emersion/go-smtp"
)

// Server is one SMTP listener role (MX, submission) on top of go-smtp.
// Many Servers can run in one process; each may Serve several listeners.
type Server struct {
	opts    Options
	backend Backend
	log     *slog.Logger
	smtp    *gosmtp.Server

	// ctx is passed to backend calls; it is cancelled when Shutdown gives
	// up waiting.
	ctx    context.Context
	cancel context.CancelFunc

	bufs sync.Pool // *[]byte message buffers, see data.go

	mu       sync.Mutex
	conns    map[*conn]struct{}
	perIP    map[netip.Addr]int
	perNet   map[netip.Prefix]int // per /24 or /64, see abuse.go
	rateIP   *rateLimiter[netip.Addr]
	rateNet  *rateLimiter[netip.Prefix]
	draining bool
}

// New returns a Server for backend. It does not listen: call Serve.
func New(opts Options, backend Backend) *Server {
	opts = opts.withDefaults()
	s := &Server{
		opts:    opts,
		backend: backend,
		log:     opts.Logger,
		conns:   make(map[*conn]struct{}),
		perIP:   make(map[netip.Addr]int),
		perNet:  make(map[netip.Prefix]int),
		rateIP:  newRateLimiter[netip.Addr](opts.ConnectionRatePerIP),
		rateNet: newRateLimiter[netip.Prefix](opts.ConnectionRatePerNet),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())

	gs := gosmtp.NewServer(gosmtp.BackendFunc(s.newSession))
	gs.Domain = opts.Hostname
	gs.TLSConfig = opts.TLSConfig
	gs.MaxLineLength = opts.MaxLineLength
	gs.MaxMessageBytes = opts.MaxMessageBytes
	gs.MaxRecipients = opts.MaxRecipients
	gs.ReadTimeout = opts.CommandTimeout
	gs.WriteTimeout = opts.CommandTimeout
	gs.EnableSMTPUTF8 = true
	// REQUIRETLS (RFC 8689): go-smtp advertises it only over TLS.
	gs.EnableREQUIRETLS = opts.TLSConfig != nil
	// go-smtp answers AUTH outside TLS itself (523) unless this is set;
	// with an Authenticator the policy decides: it offers no mechanism in
	// plain text and answers AUTH there with 530 (RFC 3207 §4).
	gs.AllowInsecureAuth = opts.Authenticator != nil
	gs.ErrorLog = errorLog{opts.Logger}
	s.smtp = gs
	return s
}

// Serve accepts connections on l until Shutdown. The caller creates l, so
// the address is known (and reachable) before Serve is called. Serve
// returns nil after Shutdown.
func (s *Server) Serve(l net.Listener) error {
	if s.opts.ImplicitTLS && s.opts.TLSConfig == nil {
		return errors.New("smtpserver: ImplicitTLS without TLSConfig")
	}
	err := s.smtp.Serve(&listener{Listener: l, srv: s})
	if errors.Is(err, gosmtp.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting connections and ends the sessions: idle ones
// at once (they are answered 421), those inside a transaction once the
// transaction is over, so a message being sent is still received and
// acknowledged. When ctx ends first, all connections are closed and
// Shutdown returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.drain()
	}

	err := s.smtp.Shutdown(ctx)
	if errors.Is(err, gosmtp.ErrServerClosed) {
		err = nil
	}
	if ctx.Err() != nil {
		s.cancel()
		s.mu.Lock()
		for c := range s.conns {
			c.Conn.Close() // unblocks reads; go-smtp's handler then exits
		}
		s.mu.Unlock()
		s.smtp.Close()
		return ctx.Err()
	}
	s.cancel()
	return err
}

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// newID returns a random 13-character id (64 bits).
func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}

// tlsSummary is "TLS1.3 TLS_AES_128_GCM_SHA256", or "" without TLS.
func tlsSummary(cs *tls.ConnectionState) string {
	if cs == nil {
		return ""
	}
	return tls.VersionName(cs.Version) + " " + tls.CipherSuiteName(cs.CipherSuite)
}

// errorLog feeds go-smtp's internal error log into slog.
type errorLog struct{ log *slog.Logger }

func (e errorLog) Printf(format string, v ...any) { e.print(fmt.Sprintf(format, v...)) }
func (e errorLog) Println(v ...any)               { e.print(fmt.Sprintln(v...)) }

func (e errorLog) print(msg string) {
	msg = strings.TrimSpace(msg)
	if strings.HasPrefix(msg, "panic") {
		e.log.Error("smtp engine", "err", msg)
		return
	}
	// Handshake failures and resets from scanners: not worth a warning.
	e.log.Debug("smtp engine", "err", msg)
}
