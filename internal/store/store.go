// Package store defines posthorn's storage contract: domains, accounts,
// aliases, mailboxes and messages, independent of the engine behind them.
//
// Backends live in subpackages (store/sqlite is the embedded default; a
// PostgreSQL backend follows) and must all pass the conformance suite in
// store/storetest. Protocol layers (SMTP, IMAP, POP3, HTTP) only ever see
// this package's types, never a backend's.
//
// Identity and ordering rules every backend keeps:
//   - Message.ID is unique across the whole store and never reused; POP3 UIDL
//     is derived from it.
//   - Within a mailbox, UIDs only grow and are never reused while the
//     mailbox's UIDVALIDITY stays the same.
//   - Every change to a mailbox (new message, flag change, expunge) takes a
//     new per-mailbox MODSEQ, and flag changes and expunges are recorded in a
//     change log, so IMAP CONDSTORE/QRESYNC can answer "what changed since N".
//   - A write that returns nil is durable (fsync'd).
package store

import (
	"context"
	"errors"
	"time"
)

// Errors a backend returns; wrap them with %w so callers can use errors.Is.
var (
	ErrNotFound       = errors.New("not found")
	ErrExists         = errors.New("already exists")
	ErrDomainNotEmpty = errors.New("domain still has accounts or aliases")
	ErrUnknownDomain  = errors.New("domain is not served here")
	ErrInvalid        = errors.New("invalid argument")
	ErrClosed         = errors.New("store is closed")
)

// Store is the whole storage contract.
type Store interface {
	Directory
	Mail
	Queue
	// Close flushes pending writes and releases the store.
	Close() error
}

// Directory holds who exists: domains, accounts and aliases. Addresses passed
// in are canonical (see smtp.ParseAddress and Address.Canonical): domain in
// lower case, local part in lower case.
type Directory interface {
	AddDomain(ctx context.Context, name string) error
	// RemoveDomain fails with ErrDomainNotEmpty while accounts or aliases of
	// the domain exist.
	RemoveDomain(ctx context.Context, name string) error
	Domains(ctx context.Context) ([]Domain, error)
	// HasDomain reports whether mail for the domain is ours.
	HasDomain(ctx context.Context, name string) (bool, error)

	// AddAccount creates the account with its default mailboxes (see
	// DefaultMailboxes). The domain must exist (ErrUnknownDomain).
	AddAccount(ctx context.Context, address string, cred Credentials) (Account, error)
	SetCredentials(ctx context.Context, address string, cred Credentials) error
	// RemoveAccount deletes the account, its mailboxes and messages.
	RemoveAccount(ctx context.Context, address string) error
	// Accounts lists the accounts of one domain, or of all when domain is "".
	Accounts(ctx context.Context, domain string) ([]Account, error)
	Account(ctx context.Context, address string) (Account, error)
	// Credentials returns the stored secrets for a login.
	Credentials(ctx context.Context, address string) (Account, Credentials, error)
	// SetMaySendAsDomain grants or revokes an account's right to submit
	// mail from any address of its domain (Account.MaySendAsDomain).
	SetMaySendAsDomain(ctx context.Context, address string, allow bool) error

	// AddAppPassword gives an account an extra named password, for one
	// device or application, usable wherever the account password is and
	// revocable on its own. Names are unique per account (ErrExists).
	// Removing the account removes its app passwords.
	AddAppPassword(ctx context.Context, address, name string, cred Credentials) (AppPassword, error)
	// AppPasswords lists an account's app passwords in name order, with
	// their credentials.
	AppPasswords(ctx context.Context, address string) ([]AppPassword, error)
	// RemoveAppPassword revokes one app password (ErrNotFound when the
	// account has none of that name).
	RemoveAppPassword(ctx context.Context, address, name string) error

	// AddAlias maps address (local@domain, or @domain for the domain's
	// catch-all) to one or more account addresses. Targets must exist.
	AddAlias(ctx context.Context, address string, targets []string) error
	RemoveAlias(ctx context.Context, address string) error
	Aliases(ctx context.Context, domain string) ([]Alias, error)
	Alias(ctx context.Context, address string) (Alias, error)
}

// Mail holds mailboxes and messages.
type Mail interface {
	Mailboxes(ctx context.Context, accountID int64) ([]Mailbox, error)
	Mailbox(ctx context.Context, accountID int64, name string) (Mailbox, error)
	CreateMailbox(ctx context.Context, accountID int64, name string, use SpecialUse) (Mailbox, error)
	// RenameMailbox renames a mailbox and its children; INBOX cannot be
	// renamed here (IMAP's special INBOX rename is built on top).
	RenameMailbox(ctx context.Context, accountID int64, from, to string) error
	// DeleteMailbox removes the mailbox and its messages. INBOX cannot be
	// deleted.
	DeleteMailbox(ctx context.Context, accountID int64, name string) error
	SetSubscribed(ctx context.Context, accountID int64, name string, subscribed bool) error
	MailboxStatus(ctx context.Context, mailboxID int64) (MailboxStatus, error)

	// Deliver stores one message body into one or more mailboxes (possibly
	// of different accounts) in a single durable commit. It returns one
	// Message per target, in order. Concurrent Deliver calls may be grouped
	// into one commit by the backend; each still returns only after its
	// message is durable. The backend does not keep d.Body after Deliver
	// returns: callers reuse the buffer.
	Deliver(ctx context.Context, d Delivery) ([]Message, error)
	// Append stores a message in one mailbox (IMAP APPEND).
	Append(ctx context.Context, mailboxID int64, opts AppendOptions, body []byte) (Message, error)
	// Messages lists a mailbox's messages in UID order.
	Messages(ctx context.Context, mailboxID int64) ([]Message, error)
	// MessageBody returns the exact bytes stored for a message.
	MessageBody(ctx context.Context, messageID int64) ([]byte, error)
	// UpdateFlags changes flags of the messages with the given UIDs. With
	// unchangedSince > 0 (CONDSTORE), messages whose MODSEQ is greater are
	// not changed and are returned in failed. Updated messages get a new
	// MODSEQ and a change-log entry.
	UpdateFlags(ctx context.Context, mailboxID int64, uids []uint32, op FlagOp, flags []string, unchangedSince uint64) (updated []Message, failed []uint32, err error)
	// Expunge removes the messages with the given UIDs that carry \Deleted;
	// with uids == nil it removes every message carrying \Deleted. It
	// returns the UIDs removed, in order, and records them in the change log.
	Expunge(ctx context.Context, mailboxID int64, uids []uint32) ([]uint32, error)
	// Copy copies messages to another mailbox of the same account and
	// returns the new UIDs in the order of the source UIDs found.
	Copy(ctx context.Context, fromMailboxID int64, uids []uint32, toMailboxID int64) (src, dst []uint32, err error)
	// Move is Copy followed by expunging the source messages, atomically.
	Move(ctx context.Context, fromMailboxID int64, uids []uint32, toMailboxID int64) (src, dst []uint32, err error)
	// Changes returns the change-log entries of a mailbox with a MODSEQ
	// greater than since, in MODSEQ order.
	Changes(ctx context.Context, mailboxID int64, since uint64) ([]Change, error)
}

// Domain is a mail domain served here.
type Domain struct {
	Name    string
	Created time.Time
}

// Account is a mail user. Its login is its address.
type Account struct {
	ID      int64
	Address string
	Domain  string
	Created time.Time
	// MaySendAsDomain lets the account submit mail from any address of
	// its domain, not only its own and the aliases pointing to it.
	MaySendAsDomain bool
}

// Credentials are what is stored to check a password: an argon2id hash (PHC
// string form) for PLAIN/LOGIN, and SCRAM-SHA-256 keys, because SCRAM cannot
// be derived from the argon2 hash. See package auth.
type Credentials struct {
	PasswordHash string
	SCRAM        SCRAMKeys
}

// AppPassword is a named, revocable extra password of an account. Only
// Credentials.PasswordHash is used: SCRAM logs in with the account
// password alone, since its username names no app password.
type AppPassword struct {
	Name        string
	Created     time.Time
	Credentials Credentials
}

// SCRAMKeys are the RFC 5802 stored credentials.
type SCRAMKeys struct {
	Salt       []byte
	Iterations int
	StoredKey  []byte
	ServerKey  []byte
}

// Alias maps one address (or "@domain", the catch-all) to accounts.
type Alias struct {
	Address string
	Targets []string
}

// SpecialUse is an RFC 6154 mailbox attribute such as `\Sent`, or "".
type SpecialUse string

// The RFC 6154 special-use attributes posthorn creates.
const (
	UseNone    SpecialUse = ""
	UseSent    SpecialUse = `\Sent`
	UseDrafts  SpecialUse = `\Drafts`
	UseTrash   SpecialUse = `\Trash`
	UseJunk    SpecialUse = `\Junk`
	UseArchive SpecialUse = `\Archive`
)

// Inbox is the name of the mailbox new mail goes to.
const Inbox = "INBOX"

// Delimiter separates the levels of a mailbox name ("Archive/2024"):
// RenameMailbox renames the children under it too.
const Delimiter = "/"

// DefaultMailbox is a mailbox every new account gets.
type DefaultMailbox struct {
	Name string
	Use  SpecialUse
}

// DefaultMailboxes are created with every account.
var DefaultMailboxes = []DefaultMailbox{
	{Inbox, UseNone},
	{"Sent", UseSent},
	{"Drafts", UseDrafts},
	{"Trash", UseTrash},
	{"Junk", UseJunk},
	{"Archive", UseArchive},
}

// Mailbox is a folder of one account.
type Mailbox struct {
	ID          int64
	AccountID   int64
	Name        string
	SpecialUse  SpecialUse
	UIDValidity uint32
	Subscribed  bool
}

// MailboxStatus are a mailbox's counters.
type MailboxStatus struct {
	Messages      int
	Unseen        int
	Deleted       int
	Size          int64
	UIDNext       uint32
	UIDValidity   uint32
	HighestModSeq uint64
}

// Message is one message in one mailbox.
type Message struct {
	ID           int64 // store-wide identity, never reused
	MailboxID    int64
	UID          uint32
	ModSeq       uint64
	Flags        []string // system flags (`\Seen`, ...) and keywords, sorted
	InternalDate time.Time
	Size         int64
}

// Delivery is one message body going to one or more mailboxes.
type Delivery struct {
	Body         []byte
	InternalDate time.Time // zero means now
	Targets      []Target
}

// Target is one mailbox of one account. An empty Mailbox means INBOX; a
// mailbox that does not exist falls back to INBOX.
type Target struct {
	AccountID int64
	Mailbox   string
	Flags     []string
}

// AppendOptions are the optional parts of an APPEND.
type AppendOptions struct {
	Flags        []string
	InternalDate time.Time // zero means now
}

// FlagOp says how UpdateFlags combines flags.
type FlagOp int

// Flag operations, as in IMAP STORE FLAGS, +FLAGS and -FLAGS.
const (
	FlagsReplace FlagOp = iota
	FlagsAdd
	FlagsRemove
)

// ChangeKind tells what a change-log entry records.
type ChangeKind int

// Kinds of change-log entries.
const (
	ChangeFlags ChangeKind = iota + 1
	ChangeExpunge
)

// Change is one change-log entry of a mailbox.
type Change struct {
	ModSeq uint64
	UID    uint32
	Kind   ChangeKind
	Flags  []string // for ChangeFlags: the flags after the change
}
