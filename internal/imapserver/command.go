package imapserver

import (
	"errors"
	"strconv"

	"github.com/posthorn/posthorn/internal/imap"
)

// response is a command's tagged answer; only the session loop writes it.
// Handlers write untagged responses themselves, through sess.out().
type response struct {
	status     imap.Status
	code, text string
	// quiet: no tagged answer (the connection is gone).
	quiet bool
	// later: the tagged answer comes at the end of the command (IDLE).
	later bool
	// bye is written as an untagged BYE before the tagged answer (LOGOUT,
	// RFC 9051 §6.1.3) or after it (closing after an error), with close.
	bye string
	// close ends the session after this answer.
	close bool
	// then runs after the answer is flushed (STARTTLS); false ends the
	// session.
	then func() bool
}

func ok(text string) response           { return response{status: imap.OK, text: text} }
func okCode(code, text string) response { return response{status: imap.OK, code: code, text: text} }
func no(code, text string) response     { return response{status: imap.NO, code: code, text: text} }
func bad(text string) response          { return response{status: imap.BAD, text: text} }

// fromError turns a refusal into a response.
func fromError(e *imap.Error) response {
	return response{status: e.Status, code: e.Code, text: e.Text}
}

// internalError answers a failure of the store or another part of the
// server, which is logged; the client learns nothing of it.
func (sess *session) internalError(what string, err error) response {
	var pe *imap.Error
	if errors.As(err, &pe) {
		return fromError(pe)
	}
	sess.srv.log.Error("imap "+what, "conn", sess.id, "account", sess.acct.Address, "err", err)
	return no("SERVERBUG", "Internal error, try again later")
}

// States in which a command is valid (RFC 9051 §6).
const (
	anyState = iota
	notAuthOnly
	authOrSelected
	authOnly
	selectedOnly
)

// commandStates maps every command the codec reads to the states it is
// valid in.
var commandStates = map[string]int{
	"CAPABILITY": anyState, "NOOP": anyState, "LOGOUT": anyState, "ID": anyState,
	"STARTTLS": notAuthOnly, "LOGIN": notAuthOnly, "AUTHENTICATE": notAuthOnly,
	"ENABLE": authOnly,
	"SELECT": authOrSelected, "EXAMINE": authOrSelected, "CREATE": authOrSelected, "DELETE": authOrSelected,
	"RENAME": authOrSelected, "SUBSCRIBE": authOrSelected, "UNSUBSCRIBE": authOrSelected, "LIST": authOrSelected,
	"LSUB": authOrSelected, "NAMESPACE": authOrSelected, "STATUS": authOrSelected, "APPEND": authOrSelected,
	"IDLE": authOrSelected, "GETQUOTA": authOrSelected, "GETQUOTAROOT": authOrSelected, "SETQUOTA": authOrSelected,
	"CHECK": selectedOnly, "CLOSE": selectedOnly, "UNSELECT": selectedOnly, "EXPUNGE": selectedOnly,
	"SEARCH": selectedOnly, "FETCH": selectedOnly, "STORE": selectedOnly, "COPY": selectedOnly, "MOVE": selectedOnly,
}

// validIn reports whether cmd may run in the session's state.
func (sess *session) validIn(cmd *imap.Command) bool {
	s := sess.state
	switch commandStates[cmd.Name] {
	case anyState:
		return true
	case notAuthOnly:
		return s == stateNotAuth
	case authOrSelected:
		return s != stateNotAuth
	case authOnly:
		return s == stateAuth
	case selectedOnly:
		return s == stateSelected
	}
	return false
}

// execute runs one command and writes its answer. It reports whether the
// session goes on.
func (sess *session) execute(cmd *imap.Command) bool {
	sess.commands++
	var res response
	if sess.validIn(cmd) {
		condStore := sess.caps.CondStore
		res = sess.dispatch(cmd)
		if !condStore && sess.caps.CondStore && cmd.Name != "SELECT" && cmd.Name != "EXAMINE" {
			sess.condStoreEnabled()
		}
	} else {
		res = bad("Command not valid in this state")
	}
	if res.later {
		return true
	}
	return sess.answer(cmd, res)
}

// answer writes cmd's tagged answer, after the pending updates of the
// selected mailbox. It reports whether the session goes on.
func (sess *session) answer(cmd *imap.Command, res response) bool {
	if res.quiet {
		return false
	}
	w := sess.out()
	if !res.close && !sess.syncSelected(w, expungeAllowedAfter(cmd.Name)) {
		// Pending updates of the selected mailbox go out before the tagged
		// answer (RFC 9051 §7); never an EXPUNGE after FETCH, STORE or
		// SEARCH (RFC 9051 §7.5.1, the UID forms are held back too). The
		// mailbox was deleted by another session: the command's own answer
		// stands, then the session ends.
		gone := sess.mailboxGone()
		res.bye, res.close = gone.bye, true
	}
	if res.bye != "" && res.status == imap.OK {
		w.Status("", imap.BYE, "", res.bye)
	}
	w.Status(cmd.Tag, res.status, res.code, res.text)
	if res.status == imap.BAD {
		sess.bad++
		if sess.bad >= sess.srv.opts.MaxErrors && !res.close {
			sess.reason, sess.linger = "too many bad commands", true
			res.close, res.bye = true, "Too many invalid commands"
		}
	}
	if res.bye != "" && res.status != imap.OK {
		w.Status("", imap.BYE, "", res.bye)
	}
	if res.close || res.then != nil {
		if err := sess.flush(); err != nil {
			sess.reason = "write: " + err.Error()
			return false
		}
		if res.close {
			return false
		}
		return res.then()
	}
	return sess.endOfCommand()
}

// condStoreEnabled follows a command that turned CONDSTORE on implicitly
// (FETCH MODSEQ, STORE UNCHANGEDSINCE, SEARCH MODSEQ, STATUS
// HIGHESTMODSEQ): with a mailbox selected, its HIGHESTMODSEQ is reported
// (RFC 7162 §3.1), so the client has a starting point.
func (sess *session) condStoreEnabled() {
	v := sess.sel.view
	if v == nil {
		return
	}
	st, err := sess.srv.store.MailboxStatus(sess.srv.readCtx, v.Mailbox().ID)
	if err != nil {
		return // deleted meanwhile: Sync reports it
	}
	sess.out().Status("", imap.OK, "HIGHESTMODSEQ "+strconv.FormatUint(st.HighestModSeq, 10), "CONDSTORE enabled")
}

// expungeAllowedAfter reports whether untagged EXPUNGE (or VANISHED) may
// be sent with the answer to the named command.
func expungeAllowedAfter(name string) bool {
	switch name {
	case "FETCH", "STORE", "SEARCH":
		return false
	}
	return true
}

// dispatch runs a command valid in the current state.
func (sess *session) dispatch(cmd *imap.Command) response {
	switch cmd.Name {
	case "CAPABILITY":
		sess.out().Atom("* CAPABILITY " + sess.capabilities() + "\r\n")
		return ok("CAPABILITY completed")
	case "NOOP":
		return ok("NOOP completed")
	case "CHECK":
		return ok("CHECK completed")
	case "LOGOUT":
		sess.reason = "logout"
		return response{status: imap.OK, text: "LOGOUT completed", bye: "Logging out", close: true}
	case "ID":
		return sess.idCmd(cmd.Args.(*imap.IDArgs))
	case "STARTTLS":
		return sess.starttls()
	case "LOGIN":
		return sess.login(cmd.Args.(*imap.LoginArgs))
	case "AUTHENTICATE":
		return sess.authenticate(cmd.Args.(*imap.AuthenticateArgs))
	case "ENABLE":
		return sess.enable(cmd.Args.(*imap.EnableArgs))
	case "NAMESPACE":
		// RFC 2342 / RFC 9051 §6.3.10: one personal namespace, no others.
		sess.out().Atom(`* NAMESPACE (("" "/")) NIL NIL` + "\r\n")
		return ok("NAMESPACE completed")
	case "CREATE":
		return sess.create(cmd.Args.(*imap.CreateArgs))
	case "DELETE":
		return sess.deleteCmd(cmd.Args.(*imap.MailboxArgs))
	case "RENAME":
		return sess.rename(cmd.Args.(*imap.RenameArgs))
	case "SUBSCRIBE", "UNSUBSCRIBE":
		return sess.subscribe(cmd.Args.(*imap.MailboxArgs), cmd.Name == "SUBSCRIBE")
	case "LIST", "LSUB":
		return sess.list(cmd.Args.(*imap.ListArgs), cmd.Name == "LSUB")
	case "STATUS":
		return sess.status(cmd.Args.(*imap.StatusArgs))
	case "APPEND":
		return sess.appendCmd(cmd.Args.(*imap.AppendArgs))
	case "GETQUOTA":
		return sess.getQuota(cmd.Args.(*imap.QuotaArgs))
	case "GETQUOTAROOT":
		return sess.getQuotaRoot(cmd.Args.(*imap.MailboxArgs))
	case "SETQUOTA":
		// RFC 9208 §4.3: quotas are the administrator's (posthorn account
		// quota); QUOTASET is not advertised.
		return no("NOPERM", "Quotas are set by the administrator")
	case "IDLE":
		return sess.idle(cmd)
	}
	return sess.dispatchSelected(cmd)
}
