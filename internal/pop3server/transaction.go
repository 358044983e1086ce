package pop3server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// The TRANSACTION state (RFC 1939 §5) and UPDATE (§6).

func (sess *session) transactionCommand(cmd command) (reply, bool) {
	d := sess.drop
	switch cmd.name {
	case "STAT":
		if len(cmd.args) != 0 {
			return errReply(codeNone, "Usage: STAT"), true
		}
		n, size := d.stat()
		return okReply(fmt.Sprintf("%d %d", n, size)), true
	case "LIST":
		return sess.list(cmd, false), true
	case "UIDL":
		return sess.list(cmd, true), true
	case "RETR":
		return sess.retr(cmd), true
	case "TOP":
		return sess.top(cmd), true
	case "DELE":
		if len(cmd.args) != 1 {
			return errReply(codeNone, "Usage: DELE msg"), true
		}
		n, m, bad := d.message(cmd.args[0])
		if m == nil {
			return bad, true
		}
		m.deleted = true
		return okReply(fmt.Sprintf("Message %d deleted", n)), true
	case "NOOP":
		return okReply(""), true
	case "RSET":
		for i := range d.msgs {
			d.msgs[i].deleted = false
		}
		n, size := d.stat()
		return okReply(fmt.Sprintf("Maildrop has %d messages (%d octets)", n, size)), true
	case "QUIT":
		return sess.quit(), true
	case "CAPA":
		return sess.capa(), true
	case "USER", "PASS", "AUTH", "APOP", "STLS":
		return errReply(codeNone, "Already logged in"), true
	}
	return reply{}, false
}

// list answers LIST and UIDL (RFC 1939 §5, §7), for one message or for
// every message not marked deleted.
func (sess *session) list(cmd command, uidl bool) reply {
	d := sess.drop
	value := func(m dropMsg) string {
		if uidl {
			return d.uidl(m)
		}
		return strconv.FormatInt(m.size, 10)
	}
	switch len(cmd.args) {
	case 0:
		lines := make([]string, 0, len(d.msgs))
		for i, m := range d.msgs {
			if !m.deleted {
				lines = append(lines, strconv.Itoa(i+1)+" "+value(m))
			}
		}
		text := "Unique-ID listing follows"
		if !uidl {
			n, size := d.stat()
			text = fmt.Sprintf("%d messages (%d octets)", n, size)
		}
		return reply{ok: true, text: text, multi: true, lines: lines}
	case 1:
		n, m, bad := d.message(cmd.args[0])
		if m == nil {
			return bad
		}
		return okReply(strconv.Itoa(n) + " " + value(*m))
	}
	return errReply(codeNone, "Usage: "+cmd.name+" [msg]")
}

// body reads a message of the snapshot from the store. A message an IMAP
// client expunged after the snapshot was taken is answered with -ERR
// (RFC 1939 leaves this case to the server; it stays listed).
func (sess *session) body(m *dropMsg) ([]byte, reply, bool) {
	body, err := sess.srv.store.MessageBody(sess.srv.readCtx, m.id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errReply(codeNone, "Message was removed by another client"), false
	}
	if err != nil {
		sess.srv.log.Error("pop3 reading message", "conn", sess.id, "message", m.id, "err", err)
		return nil, errReply(codeSysTemp, "Cannot read the message, try again later"), false
	}
	return body, reply{}, true
}

// retr sends a whole message, dot-stuffed (RFC 1939 §5). The body is
// written from the store's buffer in pieces, never copied into a string.
func (sess *session) retr(cmd command) reply {
	if len(cmd.args) != 1 {
		return errReply(codeNone, "Usage: RETR msg")
	}
	_, m, bad := sess.drop.message(cmd.args[0])
	if m == nil {
		return bad
	}
	body, bad, ok := sess.body(m)
	if !ok {
		return bad
	}
	sess.retrieved++
	return reply{ok: true, text: fmt.Sprintf("%d octets", m.size), multi: true,
		body: func(w *bufio.Writer) error { return writeMessage(w, body) }}
}

// top sends the header section, the empty line and the first n lines of
// the body (RFC 1939 §7).
func (sess *session) top(cmd command) reply {
	if len(cmd.args) != 2 {
		return errReply(codeNone, "Usage: TOP msg lines")
	}
	_, m, bad := sess.drop.message(cmd.args[0])
	if m == nil {
		return bad
	}
	lines, ok := parseNumber(cmd.args[1])
	if !ok {
		return errReply(codeNone, "Invalid number of lines")
	}
	body, bad, ok := sess.body(m)
	if !ok {
		return bad
	}
	return reply{ok: true, text: "Top of message follows", multi: true,
		body: func(w *bufio.Writer) error { return writeLines(w, body, lines) }}
}

// errLockLostReply ends a session whose maildrop lock is or may be lost.
var errLockLostReply = reply{code: codeSysTemp, text: "Maildrop lock lost, no messages deleted; log in again", close: true}

// quit enters the UPDATE state (RFC 1939 §6): the messages marked deleted
// are removed, the maildrop lock is given up before the reply goes out (so
// a client that reconnects at once finds it free), and the session ends.
// Nothing is deleted unless the lock is still the session's: it is renewed
// first, and the deletions must be over before that lease ends.
func (sess *session) quit() reply {
	lock := sess.lock
	sess.lock = nil
	defer lock.release(sess.srv.ctx, sess.id)
	lock.stopKeeping()
	sess.reason = "quit"
	sess.mu.Lock()
	lost := sess.lockLost
	sess.mu.Unlock()
	var until time.Time
	err := errLockLost
	if !lost {
		until, err = lock.confirm(sess.srv.ctx)
	}
	if err != nil {
		sess.reason = "maildrop lock lost at quit"
		sess.srv.log.Error("pop3 maildrop lock lost at quit", "conn", sess.id, "account", sess.drop.account.Address, "err", err)
		return errLockLostReply
	}
	ctx, cancel := context.WithDeadline(sess.srv.ctx, until)
	defer cancel()
	removed, err := sess.srv.update(ctx, sess.drop)
	if err != nil {
		sess.srv.log.Error("pop3 removing deleted messages", "conn", sess.id, "account", sess.drop.account.Address, "err", err)
		return reply{code: codeSysTemp, text: "Some deleted messages not removed", close: true}
	}
	sess.deleted = removed
	return reply{ok: true, text: fmt.Sprintf("Bye, %d messages deleted", removed), close: true}
}
