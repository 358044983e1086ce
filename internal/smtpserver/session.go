package smtpserver

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/posthorn/posthorn/internal/smtp"
)

// session adapts a Backend Session to go-smtp: it turns replies into
// go-smtp's error type, counts failed commands, logs one line per
// transaction and reads message data.
type session struct {
	srv  *Server
	c    *conn
	gc   *gosmtp.Conn
	info ConnInfo
	tls  string // tlsSummary of info.TLS

	// mu serialises calls into be: with BDAT, go-smtp runs Data on its own
	// goroutine while the connection goroutine may call Reset or Logout.
	mu     sync.Mutex
	be     Session
	tx     *transaction // nil outside a transaction
	errors int          // failed commands so far (replies >= 400 by the policy)
	closed bool
	user   string // the account logged in with AUTH, "" before
}

// transaction is what the per-transaction log line reports.
type transaction struct {
	id       string
	helo     string // the greeting in force at MAIL
	start    time.Time
	from     string
	rcpts    []string
	size     int
	code     int  // last reply code given in this transaction
	accepted bool // DATA was answered 250
}

var _ gosmtp.Session = (*session)(nil)

func (s *Server) newSession(gc *gosmtp.Conn) (gosmtp.Session, error) {
	nc := gc.Conn()
	var cs *tls.ConnectionState
	if tc, ok := nc.(*tls.Conn); ok {
		st := tc.ConnectionState()
		cs = &st
		nc = tc.NetConn()
	}
	c, ok := nc.(*conn)
	if !ok {
		// Only connections from our listener reach go-smtp.
		s.log.Error("smtp session on unknown connection type")
		return nil, toGoSMTP(smtp.ReplyTempError)
	}
	info := ConnInfo{
		ID:         c.id,
		RemoteAddr: c.RemoteAddr(),
		LocalAddr:  c.LocalAddr(),
		TLS:        cs,
		Helo:       gc.Hostname(),
	}
	sess := &session{
		srv:  s,
		c:    c,
		gc:   gc,
		info: info,
		tls:  tlsSummary(cs),
		be:   s.backend.NewSession(info),
	}
	if s.opts.Authenticator != nil {
		return authSession{sess}, nil
	}
	return sess, nil
}

// gate refuses a command from a session that must end. It reports a
// non-nil reply when the command must not reach the policy.
func (s *session) gate() error {
	if s.c.isKilled() {
		// The 421 is out; this command was pipelined behind it. Drop the
		// connection without another reply.
		s.c.Conn.Close()
		return toGoSMTP(smtp.ReplyTooManyErrors)
	}
	if s.errors >= s.srv.opts.MaxErrors {
		s.c.kill()
		return toGoSMTP(&smtp.Reply{Code: 421, Enhanced: smtp.EnhancedCode{4, 7, 0},
			Text: s.srv.opts.Hostname + " Too many errors"})
	}
	return nil
}

func (s *session) Mail(from string, opts *gosmtp.MailOptions) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.gate(); err != nil {
		return err
	}
	if s.c.isDraining() {
		s.c.kill()
		return toGoSMTP(smtp.ReplyShuttingDown)
	}
	if s.tx != nil {
		// RFC 5321 §4.1.4: MAIL inside a transaction is out of sequence.
		return s.fail(&smtp.Reply{Code: 503, Enhanced: smtp.EnhancedCode{5, 5, 1}, Text: "Nested MAIL command"})
	}
	if s.srv.opts.RequireAuth && s.user == "" {
		if s.info.TLS == nil && s.srv.opts.TLSConfig != nil {
			return s.fail(replyMustStartTLS) // RFC 3207 §4
		}
		return s.fail(replyAuthRequired) // RFC 4954 §6
	}
	if opts.RequireTLS && s.info.TLS == nil {
		// RFC 8689 §4.1: REQUIRETLS is offered over TLS only.
		return s.fail(replyRequireTLSNeedsTLS)
	}
	mo := MailOptions{TxID: newID(), UTF8: opts.UTF8, Body: string(opts.Body), Size: opts.Size, RequireTLS: opts.RequireTLS}
	if err := s.be.Mail(s.srv.ctx, from, mo); err != nil {
		reply := s.fail(err)
		s.srv.opts.Received.Rejected(reply.Code) // the policy refused the message at MAIL
		return reply
	}
	// Hostname is read here, on go-smtp's connection goroutine: with BDAT,
	// Data runs on another one.
	s.tx = &transaction{id: mo.TxID, helo: s.gc.Hostname(), start: time.Now(), from: from, code: 250}
	s.c.setInTx(true)
	return nil
}

func (s *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.gate(); err != nil {
		return err
	}
	if s.tx == nil { // go-smtp checks MAIL first; be safe anyway
		return s.fail(&smtp.Reply{Code: 503, Enhanced: smtp.EnhancedCode{5, 5, 1}, Text: "Need MAIL first"})
	}
	if err := s.be.Rcpt(s.srv.ctx, to); err != nil {
		return s.fail(err)
	}
	s.tx.rcpts = append(s.tx.rcpts, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	_, chunked := r.(*io.PipeReader) // go-smtp hands BDAT data over a pipe
	s.mu.Lock()
	err := s.gate()
	tx := s.tx
	s.mu.Unlock()
	if err != nil {
		return err
	}

	// Read without holding mu: go-smtp may call Reset or Logout meanwhile
	// (BDAT), which ends this read through the pipe.
	start := time.Now()
	s.c.beginData(start.Add(s.srv.opts.DataTotalTimeout))
	buf, rerr := s.srv.readMessage(r)
	s.c.endData()
	defer s.srv.putBuf(buf)

	s.mu.Lock()
	defer s.mu.Unlock()
	if tx == nil || s.tx != tx || s.closed {
		return toGoSMTP(smtp.ReplyTempError)
	}
	tx.size = len(buf.b) - buf.off
	var reply error
	switch {
	case rerr != nil:
		reply = s.dataReadError(rerr)
	case hasBareNewline(buf.b[buf.off:]):
		// RFC 5321 §2.3.8: CR and LF only as CRLF. See the package doc.
		reply = s.fail(smtp.ReplyBareNewline)
	default:
		msg := &Message{TxID: tx.id, Helo: tx.helo, Chunked: chunked, buf: buf.b, off: buf.off}
		if err := s.be.Data(s.srv.ctx, msg); err != nil {
			reply = s.fail(err)
		} else {
			tx.code = 250
			tx.accepted = true
			reply = &gosmtp.SMTPError{Code: 250, EnhancedCode: gosmtp.EnhancedCode{2, 0, 0}, Message: "Ok: queued as " + tx.id}
		}
	}
	s.endTx("data")
	return reply
}

// dataReadError maps a failure while reading message data to a reply.
func (s *session) dataReadError(err error) error {
	var tooLong bool
	switch {
	case errors.Is(err, errTooBig), errors.Is(err, gosmtp.ErrDataTooLarge):
		return s.fail(smtp.ReplyMessageTooBig)
	case errors.Is(err, gosmtp.ErrTooLongLine):
		// go-smtp closes the connection after this reply.
		tooLong = true
	case errors.Is(err, gosmtp.ErrDataReset):
		// RSET or a closed connection during BDAT: nobody reads this.
		return toGoSMTP(smtp.ReplyTempError)
	}
	if tooLong {
		if s.tx != nil {
			s.tx.code = smtp.ReplyLineTooLong.Code
		}
		return toGoSMTP(smtp.ReplyLineTooLong)
	}
	// A timeout or a broken connection: nothing the client says after this
	// may be taken as a command.
	s.c.kill()
	if s.tx != nil {
		s.tx.code = smtp.ReplyTimeout.Code
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		return toGoSMTP(smtp.ReplyTimeout)
	}
	return toGoSMTP(&smtp.Reply{Code: 421, Enhanced: smtp.EnhancedCode{4, 4, 0}, Text: "Connection error"})
}

func (s *session) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endTx("reset")
	if !s.closed {
		s.be.Reset()
	}
}

func (s *session) Logout() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endTx("closed")
	if !s.closed {
		s.closed = true
		s.be.Close()
	}
	return nil
}

// fail counts a failed command and turns err into a reply go-smtp sends.
// Must hold mu.
func (s *session) fail(err error) *gosmtp.SMTPError {
	var r *smtp.Reply
	if !errors.As(err, &r) || r.Code < 400 || r.Code > 599 {
		s.srv.log.Error("smtp policy error", "conn", s.info.ID, "client", s.c.ip, "err", err)
		r = smtp.ReplyTempError
	}
	s.errors++
	if s.tx != nil {
		s.tx.code = r.Code
	}
	if r.Code == 421 {
		s.c.kill() // RFC 5321 §3.8: 421 means the server closes
	}
	return toGoSMTP(r)
}

// endTx logs the transaction, if any, and leaves it. Must hold mu.
func (s *session) endTx(how string) {
	tx := s.tx
	if tx == nil {
		return
	}
	s.tx = nil
	s.c.setInTx(false)
	// One count per transaction: accepted, or refused by its last
	// rejection (a RCPT, DATA); abandoned ones (RSET, QUIT, a BDAT reset
	// with nothing refused) are not messages.
	switch {
	case tx.accepted:
		s.srv.opts.Received.Accepted()
	case tx.code >= 400:
		s.srv.opts.Received.Rejected(tx.code)
	}
	s.srv.log.LogAttrs(s.srv.ctx, slog.LevelInfo, "smtp transaction",
		slog.String("id", tx.id),
		slog.String("conn", s.info.ID),
		slog.String("client", s.c.ip.String()),
		slog.String("tls", s.tls),
		slog.String("user", s.user),
		slog.String("from", tx.from),
		slog.Any("rcpts", tx.rcpts),
		slog.Int("size", tx.size),
		slog.Int("result", tx.code),
		slog.String("end", how),
		slog.Duration("duration", time.Since(tx.start)),
	)
}

func toGoSMTP(r *smtp.Reply) *gosmtp.SMTPError {
	return &gosmtp.SMTPError{Code: r.Code, EnhancedCode: gosmtp.EnhancedCode(r.Enhanced), Message: r.Text}
}
