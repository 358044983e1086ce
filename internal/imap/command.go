package imap

import (
	"errors"
	"io"
	"time"
)

// Command is one client command (RFC 9051 §6). Name is in upper case; for
// "UID FETCH" and the other UID commands Name is "FETCH" and UID is set.
// Args is nil for commands without arguments and otherwise one of the
// *...Args types below.
type Command struct {
	Tag  string
	Name string
	UID  bool
	Args any
}

// LoginArgs are LOGIN's (RFC 9051 §6.2.3).
type LoginArgs struct{ Username, Password string }

// AuthenticateArgs are AUTHENTICATE's (RFC 9051 §6.2.2) with the SASL-IR
// initial response (RFC 4959), still base64; "=" stands for an empty one.
type AuthenticateArgs struct {
	Mechanism          string // upper case
	InitialResponse    string
	HasInitialResponse bool
}

// EnableArgs are ENABLE's (RFC 5161).
type EnableArgs struct{ Capabilities []string }

// SelectArgs are SELECT's and EXAMINE's with the RFC 7162 parameters.
type SelectArgs struct {
	Mailbox   string
	CondStore bool
	QResync   *QResyncArgs
}

// QResyncArgs is SELECT's QRESYNC parameter (RFC 7162 §3.2.5).
type QResyncArgs struct {
	UIDValidity uint32
	ModSeq      uint64
	KnownUIDs   *SeqSet
	// KnownSeqs and KnownSeqUIDs are seq-match-data: sequence numbers and
	// the UIDs the client knows for them.
	KnownSeqs, KnownSeqUIDs *SeqSet
}

// MailboxArgs are the arguments of DELETE, SUBSCRIBE, UNSUBSCRIBE and
// GETQUOTAROOT.
type MailboxArgs struct{ Mailbox string }

// CreateArgs are CREATE's, with the RFC 6154 USE parameter.
type CreateArgs struct {
	Mailbox string
	Use     []string
}

// RenameArgs are RENAME's.
type RenameArgs struct{ From, To string }

// ListArgs are LIST's (RFC 9051 §6.3.9 with RFC 5258 LIST-EXTENDED and
// RFC 5819 LIST-STATUS) and LSUB's. Options are in upper case.
type ListArgs struct {
	Selection   []string // SUBSCRIBED, REMOTE, RECURSIVEMATCH, SPECIAL-USE
	Reference   string
	Patterns    []string
	Return      []string // SUBSCRIBED, CHILDREN, SPECIAL-USE, STATUS, ...
	StatusItems []string // with RETURN (STATUS (...))
}

// StatusArgs are STATUS's (RFC 9051 §6.3.11); items in upper case.
type StatusArgs struct {
	Mailbox string
	Items   []string
}

// AppendArgs are APPEND's, with several messages under MULTIAPPEND (RFC
// 3502).
type AppendArgs struct {
	Mailbox  string
	Messages []AppendMessage
}

// AppendMessage is one message of an APPEND.
type AppendMessage struct {
	Flags  []string  // nil when absent
	Date   time.Time // zero when absent
	Data   []byte
	Binary bool // sent as literal8 (RFC 3516)
	UTF8   bool // sent as UTF8 (literal8) (RFC 6855 §4)
}

// SearchArgs are SEARCH's (RFC 9051 §6.4.4), with ESEARCH return options
// (RFC 4731; nil when RETURN was absent).
type SearchArgs struct {
	Return  []string
	Charset string
	Key     SearchKey
}

// FetchArgs are FETCH's, with the RFC 7162 modifiers.
type FetchArgs struct {
	Set          SeqSet
	Items        []FetchItem
	ChangedSince uint64 // 0 when absent
	Vanished     bool
}

// StoreOp is how STORE combines flags.
type StoreOp int

// Store operations.
const (
	StoreReplace StoreOp = iota // FLAGS
	StoreAdd                    // +FLAGS
	StoreRemove                 // -FLAGS
)

// StoreArgs are STORE's, with UNCHANGEDSINCE (RFC 7162 §3.1.3).
type StoreArgs struct {
	Set            SeqSet
	UnchangedSince uint64
	HasUnchanged   bool // UNCHANGEDSINCE was given (0 is a valid value)
	Op             StoreOp
	Silent         bool
	Flags          []string
}

// CopyArgs are COPY's and MOVE's (RFC 6851).
type CopyArgs struct {
	Set     SeqSet
	Mailbox string
}

// ExpungeArgs are UID EXPUNGE's (RFC 4315 §2.1).
type ExpungeArgs struct{ Set SeqSet }

// IDArgs are ID's (RFC 2971): field/value pairs; nil for ID NIL. A value
// that was NIL is returned as "" in Values with false in HasValue.
type IDArgs struct {
	Fields   []string
	Values   []string
	HasValue []bool
}

// QuotaArgs are GETQUOTA's (RFC 9208).
type QuotaArgs struct{ Root string }

// SetQuotaArgs are SETQUOTA's (RFC 9208 §4.3).
type SetQuotaArgs struct {
	Root      string
	Resources []string // upper case
	Limits    []uint64
}

// noArgs lists commands that take no arguments.
func noArgs(name string) bool {
	switch name {
	case "CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "CHECK", "CLOSE", "UNSELECT",
		"EXPUNGE", "IDLE", "NAMESPACE":
		return true
	}
	return false
}

// withArgs lists the commands with arguments that ReadCommand parses.
func withArgs(name string) bool {
	switch name {
	case "LOGIN", "AUTHENTICATE", "ENABLE", "SELECT", "EXAMINE", "CREATE", "DELETE", "SUBSCRIBE",
		"UNSUBSCRIBE", "GETQUOTAROOT", "RENAME", "LIST", "LSUB", "STATUS", "APPEND", "SEARCH", "FETCH",
		"STORE", "COPY", "MOVE", "EXPUNGE", "ID", "GETQUOTA", "SETQUOTA":
		return true
	}
	return false
}

// ReadCommand reads one command line and its literals. On a syntax error
// it returns an *Error (Status BAD, Tag set when known) after consuming the
// rest of the line, so the session can go on; LineTooLongError and a
// LiteralTooLargeError for a non-synchronizing literal leave the stream out
// of sync. I/O errors are returned as they are; io.EOF means the client
// closed the connection between commands.
func (r *Reader) ReadCommand() (*Command, error) {
	r.tag = ""
	r.n = 0
	r.pending = nil
	r.literals = 0
	cmd, err := r.readCommand()
	if err == nil {
		return cmd, nil
	}
	var pe *Error
	if !errors.As(err, &pe) || pe.Fatal {
		return nil, err
	}
	switch l := r.pending; {
	case l == nil:
		if r.discardLine() != nil {
			pe.Fatal = true
		}
	case !l.NonSync:
		// Refused before the "+": the client sends nothing more of this
		// command, the stream is in sync.
	default:
		// The octets of a non-synchronizing literal are on their way.
		if l.Size > max(r.opts.MaxLiteral, r.opts.MaxAppend) ||
			copyN(r, l.Size) != nil || r.discardLine() != nil {
			pe.Fatal = true
		}
	}
	return nil, err
}

func copyN(r *Reader, n int64) error {
	_, err := io.CopyN(io.Discard, r.br, n)
	r.pending = nil
	return err
}

func (r *Reader) readCommand() (*Command, error) {
	if r.peek() == 0 {
		if _, err := r.br.Peek(1); err != nil {
			return nil, err
		}
	}
	tag, err := r.chars(isTagChar, "tag")
	if err != nil {
		return nil, err
	}
	r.tag = tag
	if err := r.SP(); err != nil {
		return nil, err
	}
	name, err := r.Atom()
	if err != nil {
		return nil, err
	}
	cmd := &Command{Tag: tag, Name: toUpper(name)}
	if cmd.Name == "UID" {
		cmd.UID = true
		if err := r.SP(); err != nil {
			return nil, err
		}
		if name, err = r.Atom(); err != nil {
			return nil, err
		}
		cmd.Name = toUpper(name)
		switch cmd.Name {
		case "COPY", "MOVE", "FETCH", "SEARCH", "STORE", "EXPUNGE":
		default:
			if r.opts.Extension == nil { // UID SORT, UID THREAD, ...
				return nil, r.bad("unknown UID command %s", cmd.Name)
			}
		}
	}
	if noArgs(cmd.Name) && !cmd.UID {
		return cmd, r.CRLF()
	}
	if !withArgs(cmd.Name) {
		if r.opts.Extension == nil {
			return nil, r.bad("unknown command %s", cmd.Name)
		}
		if cmd.Args, err = r.opts.Extension(r, cmd); err != nil {
			var pe *Error
			if errors.As(err, &pe) && pe.Tag == "" {
				pe.Tag = tag
			}
			return nil, err
		}
		return cmd, r.CRLF()
	}
	if err := r.SP(); err != nil {
		return nil, err
	}
	if cmd.Args, err = r.args(cmd); err != nil {
		return nil, err
	}
	return cmd, r.CRLF()
}
