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
	// ErrOverQuota: the write would take an account's Usage beyond its
	// QuotaBytes (IMAP [OVERQUOTA], SMTP 452 4.2.2).
	ErrOverQuota = errors.New("over quota")
)

// Store is the whole storage contract.
type Store interface {
	Directory
	Mail
	Queue
	Events
	APIKeys
	MaildropLocks
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
	// SetQuota sets an account's storage quota in bytes (RFC 9208
	// STORAGE); 0 means unlimited, negative is ErrInvalid. Lowering it
	// below the current Usage removes nothing: only further growth fails.
	SetQuota(ctx context.Context, address string, bytes int64) error

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
	//
	// Quota: when a target account has a quota (Account.QuotaBytes > 0)
	// and its Usage plus the body size of every target in that account
	// would exceed it, Deliver stores nothing for any target and fails
	// with an error wrapping ErrOverQuota.
	//
	// The message's IMAP structure (MessageStructure) is computed before
	// the write and stored with the body.
	Deliver(ctx context.Context, d Delivery) ([]Message, error)
	// Append stores a message in one mailbox (IMAP APPEND). Like Deliver,
	// it fails with ErrOverQuota (wrapped) when the account's Usage plus
	// len(body) would exceed its quota, and it stores the structure.
	Append(ctx context.Context, mailboxID int64, opts AppendOptions, body []byte) (Message, error)
	// Messages lists a mailbox's messages in UID order. It is
	// MessagesFrom(ctx, mailboxID, 1).
	Messages(ctx context.Context, mailboxID int64) ([]Message, error)
	// MessagesFrom lists the messages with UID >= fromUID in UID order
	// (fromUID 0 counts as 1), from one consistent snapshot. An IMAP
	// session that knows the mailbox up to UID n re-syncs with n+1.
	// Message.Flags slices may be shared between messages of the result
	// (and with later results): callers must not modify them. An unknown
	// mailbox is ErrNotFound; no matching message is a nil slice.
	MessagesFrom(ctx context.Context, mailboxID int64, fromUID uint32) ([]Message, error)
	// MessageBody returns the exact bytes stored for a message. The slice
	// is the caller's (not shared, not reused by the store).
	MessageBody(ctx context.Context, messageID int64) ([]byte, error)
	// ForEachBody calls fn for the messages of a mailbox with the given
	// UIDs (nil: every message) in UID order, with each body, from one
	// consistent snapshot. UIDs that do not exist are skipped; an empty
	// non-nil uids calls fn never. body is only valid during the call (the
	// store may reuse it): copy what must outlive fn. An error from fn
	// stops the walk and is returned as is; so is ctx's error. An unknown
	// mailbox is ErrNotFound. Meant for SEARCH BODY/TEXT over whole
	// mailboxes: one query, no per-message round trip.
	ForEachBody(ctx context.Context, mailboxID int64, uids []uint32, fn func(m Message, body []byte) error) error
	// MessageStructure returns message.Marshal(message.Parse(body)) for
	// the message's body (package internal/message: part tree with
	// offsets, ENVELOPE, BODYSTRUCTURE), computed once when the body was
	// first stored and shared by every copy of it. A body stored before
	// the structure was kept is parsed on first request and the result
	// saved. Unmarshal it with message.Unmarshal. The slice is the
	// caller's. Unknown message: ErrNotFound.
	MessageStructure(ctx context.Context, messageID int64) ([]byte, error)
	// UpdateFlags changes flags of the messages with the given UIDs
	// (UIDs that do not exist are ignored). With unchangedSince > 0
	// (CONDSTORE STORE (UNCHANGEDSINCE n)), messages whose MODSEQ is
	// greater are not changed and are returned in failed, in UID order;
	// 0 means no check, and UnchangedSinceZero expresses UNCHANGEDSINCE 0
	// (every message fails, since every MODSEQ is at least 1). Messages
	// whose flags change get one new MODSEQ shared by the whole call and a
	// change-log entry; messages whose flags stay as they were keep their
	// MODSEQ. updated lists both kinds in UID order with their flags after
	// the call (Flags slices shared between messages: read-only).
	UpdateFlags(ctx context.Context, mailboxID int64, uids []uint32, op FlagOp, flags []string, unchangedSince uint64) (updated []Message, failed []uint32, err error)
	// Expunge removes the messages with the given UIDs that carry \Deleted;
	// with uids == nil it removes every message carrying \Deleted. It
	// returns the UIDs removed, in order, and records them in the change log.
	Expunge(ctx context.Context, mailboxID int64, uids []uint32) ([]uint32, error)
	// Copy copies messages to another mailbox of the same account and
	// returns the new UIDs in the order of the source UIDs found (UID
	// order; UIDs that do not exist are skipped). The copies share the
	// body and its structure. The destination's messages all take one new
	// MODSEQ. Fails with ErrOverQuota (wrapped) when the copies would take
	// the account beyond its quota.
	Copy(ctx context.Context, fromMailboxID int64, uids []uint32, toMailboxID int64) (src, dst []uint32, err error)
	// Move is Copy followed by expunging the source messages, atomically
	// (never checked against the quota: usage does not grow).
	Move(ctx context.Context, fromMailboxID int64, uids []uint32, toMailboxID int64) (src, dst []uint32, err error)
	// Changes returns the change-log entries of a mailbox with a MODSEQ
	// greater than since, in MODSEQ order (then UID order). The log keeps
	// the latest entry per UID: an expunge replaces the UID's flag entry,
	// and a later flag change replaces an earlier one. This answers
	// QRESYNC (VANISHED (EARLIER) = the ChangeExpunge UIDs; FETCH of flags
	// changed since = the ChangeFlags entries) and CONDSTORE's
	// CHANGEDSINCE. Messages delivered, appended, copied or moved in after
	// since are not in the log: list them with MessagesFrom and compare
	// Message.ModSeq.
	Changes(ctx context.Context, mailboxID int64, since uint64) ([]Change, error)

	// Usage is the sum of the sizes of an account's messages, every copy
	// counting (RFC 9208 STORAGE usage), kept as a running count rather
	// than summed at each call. Unknown account: ErrNotFound.
	Usage(ctx context.Context, accountID int64) (int64, error)

	// Watch returns a channel that receives after every committed change
	// to the mailbox: a message delivered, appended, copied or moved in,
	// flags changed, messages expunged or moved out, the mailbox renamed
	// (also as the child of a renamed parent) or deleted (or its account
	// removed). The watch is in place when Watch returns: every change
	// committed after that wakes it, whichever node made it, so a caller
	// that watches first and then reads the mailbox misses nothing. The
	// notification is sent only after the change is durable and visible
	// to every read, so a woken watcher reading the mailbox (MessagesFrom,
	// Changes, MailboxStatus) sees it; it is sent before the writing call
	// returns, so a session's own writes wake its own watch too. Failed
	// writes wake nobody. The channel has a buffer of one and sends never
	// block: several changes while nobody reads coalesce into one wake-up,
	// so watchers re-read the state rather than count notifications. A
	// watch on a mailbox that does not exist is allowed and never fires
	// until such an id exists. cancel stops the watch and may be called
	// more than once; the channel is never closed. Changes made by another
	// process writing the same data (a CLI beside the server) are not seen
	// by a backend that has no cross-process signal (SQLite); a PostgreSQL
	// backend registers the watch in the database (ctx bounds that) so
	// that writers on every node announce the mailbox's changes, and feeds
	// the same hub (see Notifier) from LISTEN/NOTIFY. Watch fails only if
	// that registration fails.
	Watch(ctx context.Context, mailboxID int64) (changed <-chan struct{}, cancel func(), err error)
	// WatchAccount is Watch for every mailbox of an account, plus mailbox
	// creation and subscription changes (for LIST-STATUS and NOTIFY-like
	// uses).
	WatchAccount(ctx context.Context, accountID int64) (changed <-chan struct{}, cancel func(), err error)
}

// UnchangedSinceZero passed as UpdateFlags' unchangedSince means
// UNCHANGEDSINCE 0 (RFC 7162 §3.1.3): every message fails the check. (0
// itself means "no check"; MODSEQ values never reach 2^63.)
const UnchangedSinceZero = ^uint64(0)

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
	// QuotaBytes is the storage quota (RFC 9208 STORAGE, in bytes, Usage
	// counts against it); 0 means unlimited.
	QuotaBytes int64
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
	Flags        []string // system flags (`\Seen`, ...) and keywords, sorted; read-only (may be shared)
	InternalDate time.Time
	Size         int64
}

// Delivery is one message body going to one or more mailboxes.
type Delivery struct {
	Body         []byte
	InternalDate time.Time // zero means now
	Targets      []Target
	// Events are written in the same commit, with their webhook
	// deliveries (see Events): "inbound" at the MX, "delivered" for the
	// local recipients of a tracked send.
	Events []Event
	// Idempotency, when set, is stored in the same commit as the
	// messages; when a record of the same (KeyID, Key) exists already
	// nothing is stored and Deliver fails with ErrExists.
	Idempotency *IdempotencyRecord
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
