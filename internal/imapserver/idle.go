package imapserver

import (
	"strings"
	"time"

	"github.com/posthorn/posthorn/internal/imap"
)

// idleLine is what IDLE's reader goroutine read.
type idleLine struct {
	line string
	err  error
}

// idle is IDLE (RFC 9051 §6.3.13, RFC 2177). Updates of the selected
// mailbox are written as soon as the View reports a change; DONE ends it.
// The autologout timer keeps running from the start of the IDLE (RFC 9051
// §5.4: clients re-issue IDLE within 29 minutes). A goroutine reads the
// client's line while this one waits for changes; it ends with the IDLE.
func (sess *session) idle(cmd *imap.Command) response {
	w := sess.out()
	w.Continue("idling")
	gone := !sess.syncSelected(w, true)
	if err := sess.flush(); err != nil {
		sess.reason = "write: " + err.Error()
		return response{quiet: true}
	}

	if gone {
		return sess.mailboxGone()
	}

	sess.mu.Lock()
	sess.busy = false
	draining := sess.draining
	if !draining {
		sess.raw.SetReadDeadline(time.Now().Add(sess.srv.idleTimeout))
	}
	sess.mu.Unlock()
	if draining {
		sess.readFailed(errDraining)
		return response{quiet: true}
	}

	lines := make(chan idleLine, 1)
	go func() {
		l, err := sess.r.ReadLine()
		lines <- idleLine{l, err}
	}()
	var changed <-chan struct{}
	if v := sess.sel.view; v != nil {
		changed = v.Changed()
	}
	for {
		select {
		case <-changed:
			gone := !sess.syncSelected(sess.out(), true)
			err := sess.flush()
			if err != nil || gone {
				// Stop the reader before the session ends.
				sess.raw.SetReadDeadline(time.Unix(1, 0))
				<-lines
			}
			switch {
			case err != nil:
				sess.reason = "write: " + err.Error()
				return response{quiet: true}
			case gone:
				sess.bye("", "Selected mailbox was deleted, closing")
				sess.reason = "selected mailbox deleted"
				return response{quiet: true}
			}
		case l := <-lines:
			sess.mu.Lock()
			sess.busy = true
			draining := sess.draining
			sess.mu.Unlock()
			switch {
			case draining:
				sess.readFailed(errDraining)
				return response{quiet: true}
			case l.err != nil:
				sess.readFailed(l.err)
				return response{quiet: true}
			case strings.EqualFold(l.line, "DONE"):
				return ok("IDLE terminated")
			}
			return bad("Expected DONE")
		}
	}
}
