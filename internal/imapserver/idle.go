package imapserver

import (
	"strings"
	"time"

	"github.com/posthorn/posthorn/internal/imap"
)

// idling is an IDLE in progress (RFC 9051 §6.3.13, RFC 2177).
type idling struct {
	cmd *imap.Command
	// ended is set by a push that ended the session (a failed write, the
	// selected mailbox deleted), with the reason for the log.
	ended string
}

// idle is IDLE. It answers "+", sends the pending updates and returns: the
// session waits for the client's DONE like for a command (loop, idleDone),
// in one small goroutine. Meanwhile the View calls back on each change of
// the selected mailbox, and a short-lived goroutine writes the updates
// (push). The autologout timer runs from the start of the IDLE (RFC 9051
// §5.4: clients re-issue IDLE within 29 minutes).
func (sess *session) idle(cmd *imap.Command) response {
	sess.pushMu.Lock()
	defer sess.pushMu.Unlock()
	v := sess.sel.view
	if v != nil {
		// Before the sync: a change during it is pushed once this ends.
		v.Notify(sess.pushSoon)
	}
	w := sess.out()
	w.Continue("idling")
	gone := !sess.syncSelected(w, true)
	if err := sess.flush(); err != nil {
		sess.stopNotify()
		sess.reason = "write: " + err.Error()
		return response{quiet: true}
	}
	if gone {
		sess.stopNotify()
		return sess.mailboxGone()
	}
	sess.setReadDeadline(time.Now().Add(sess.srv.idleTimeout))
	sess.idling = &idling{cmd: cmd}
	return response{later: true}
}

// pushSoon is the View's callback: it starts a push unless one is
// waiting to run already.
func (sess *session) pushSoon() {
	if sess.pushPending.CompareAndSwap(false, true) {
		go sess.push()
	}
}

// push writes the updates of the selected mailbox during IDLE. When that
// ends the session, it wakes the session's goroutine from its read.
func (sess *session) push() {
	sess.pushMu.Lock()
	defer sess.pushMu.Unlock()
	sess.pushPending.Store(false)
	id := sess.idling
	if id == nil || id.ended != "" {
		return
	}
	gone := !sess.syncSelected(sess.out(), true)
	err := sess.flush()
	switch {
	case err != nil:
		id.ended = "write: " + err.Error()
	case gone:
		sess.bye("", "Selected mailbox was deleted, closing")
		id.ended = "selected mailbox deleted"
	default:
		return
	}
	// Wake the session's goroutine from its read.
	sess.mu.Lock()
	sess.woken = true
	sess.raw.SetReadDeadline(time.Unix(1, 0))
	sess.mu.Unlock()
}

// stopNotify ends the View's callbacks; called with pushMu held.
func (sess *session) stopNotify() {
	if v := sess.sel.view; v != nil {
		v.Notify(nil)
	}
}

// idleDone waits for the line that ends IDLE and answers the IDLE
// command. It reports whether the session goes on.
func (sess *session) idleDone() bool {
	line, err := "", sess.waitInput()
	if err == nil {
		line, err = sess.r.ReadLine()
	}
	// From here on no push runs: the session writes alone again.
	sess.pushMu.Lock()
	sess.stopNotify()
	id := sess.idling
	sess.idling = nil
	sess.pushMu.Unlock()
	switch {
	case id.ended != "":
		sess.reason = id.ended
		return false
	case err != nil:
		sess.readFailed(err)
		return false
	case strings.EqualFold(line, "DONE"):
		return sess.answer(id.cmd, ok("IDLE terminated"))
	}
	return sess.answer(id.cmd, bad("Expected DONE"))
}
