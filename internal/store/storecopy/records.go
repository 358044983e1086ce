package storecopy

import (
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// Meta are the store-wide counters that are not the maximum of some ID.
type Meta struct {
	// UIDValidity is the last UIDVALIDITY handed out: the next mailbox
	// gets a greater one (or the clock, whichever is later), so a
	// mailbox recreated after the migration never repeats a value.
	UIDValidity uint32
	// LastIDs are the highest IDs ever handed out, by table (accounts,
	// mailboxes, messages, queue, events (Seq), webhook_endpoints,
	// webhook_deliveries, api_keys), deleted rows included: IDs are
	// never reused, so the target's counters start past these even when
	// the newest rows are gone.
	LastIDs map[string]int64
}

// Domain is a mail domain with its row ID.
type Domain struct {
	ID      int64
	Name    string
	Created time.Time
}

// Account is an account with its domain's ID and its secrets.
type Account struct {
	store.Account // ID, Address, Domain (name), Created, MaySendAsDomain, QuotaBytes
	DomainID      int64
	Credentials   store.Credentials
}

// AppPassword is one app password of an account.
type AppPassword struct {
	AccountID int64
	store.AppPassword
}

// Alias is an alias (or catch-all, "@domain") with its ordered targets.
type Alias struct {
	ID       int64
	DomainID int64
	Created  time.Time
	store.Alias
}

// Mailbox is a mailbox with the counters IMAP clients cache.
type Mailbox struct {
	store.Mailbox // ID, AccountID, Name, SpecialUse, UIDValidity, Subscribed
	UIDNext       uint32
	HighestModSeq uint64
}

// Body is one stored message body, shared by every Message whose BodyID
// is ID, with its IMAP structure (message.Marshal; nil when the source
// has not computed it yet).
type Body struct {
	ID        int64
	Data      []byte
	Structure []byte
}

// Message is one message in one mailbox; Flags are sorted, as in
// store.Message.
type Message struct {
	store.Message // ID, MailboxID, UID, ModSeq, Flags, InternalDate, Size
	BodyID        int64
}

// Change is one change-log entry of a mailbox (store.Mail.Changes).
type Change struct {
	MailboxID int64
	store.Change
}

// Queued is one message of the outbound queue with its body and every
// recipient's state (Status; Recipients is ignored), its lease token and
// holder, and tracking fields.
type Queued struct {
	store.QueuedMessage
}

// Event is one event of the log; Seq is its cursor, kept.
type Event struct {
	store.Event
}

// Suppression is one suppressed address of a domain.
type Suppression struct {
	store.Suppression
}

// WebhookEndpoint is one webhook endpoint or inbound route, ID kept.
type WebhookEndpoint struct {
	store.WebhookEndpoint
}

// WebhookDelivery is one row of the webhook outbox: the event (by Seq)
// for one endpoint.
type WebhookDelivery struct {
	ID          int64
	EndpointID  int64
	EventSeq    int64
	State       store.WebhookState
	Attempts    int
	Created     time.Time
	NextAttempt time.Time
	Finished    time.Time // zero while pending
	Lease       int64
	LastError   string
}

// APIKey is one HTTP API key (its hash, never the token) with its
// domain's ID.
type APIKey struct {
	store.APIKey
	DomainID int64
}

// Idempotency is one stored answer to an Idempotency-Key request.
type Idempotency struct {
	store.IdempotencyRecord
}

// Columns are, by table, the columns that carry a store's data, as both
// backends name them (their schemas follow one layout), in the order an
// importer writes each record's fields. Columns a backend derives from
// these (STATUS counters, reference counts) are not listed; meta is in
// Meta. Both backends' tests fail on a column missing here, so a schema
// change cannot leave posthorn migrate behind unnoticed.
var Columns = map[string][]string{
	"domains":            {"id", "name", "created"},
	"accounts":           {"id", "address", "domain_id", "created", "password_hash", "scram_salt", "scram_iterations", "scram_stored_key", "scram_server_key", "may_send_as_domain", "quota_bytes"},
	"app_passwords":      {"account_id", "name", "created", "password_hash"},
	"aliases":            {"id", "address", "domain_id", "created"},
	"alias_targets":      {"alias_id", "position", "address"},
	"mailboxes":          {"id", "account_id", "name", "special_use", "uidvalidity", "uidnext", "highestmodseq", "subscribed"},
	"blobs":              {"id", "data", "structure"},
	"messages":           {"id", "mailbox_id", "uid", "modseq", "sysflags", "keywords", "internal_date", "size", "blob_id"},
	"changes":            {"mailbox_id", "uid", "modseq", "kind", "flags"},
	"queue":              {"id", "account_id", "mail_from", "utf8", "require_tls", "size", "queued", "next_attempt", "attempts", "held", "lease", "lease_holder", "last_error", "warned", "tracking_id", "domain", "event_data", "submitter", "body"},
	"queue_recipients":   {"queue_id", "position", "address", "state", "reply"},
	"events":             {"seq", "id", "time", "type", "domain", "message", "recipient", "reply", "next_attempt", "data", "submitter"},
	"suppressions":       {"domain", "address", "reason", "created", "event_id"},
	"webhook_endpoints":  {"id", "domain", "url", "secret", "types", "enabled", "pattern", "keep", "created"},
	"webhook_deliveries": {"id", "endpoint_id", "event_seq", "state", "attempts", "created", "next_attempt", "finished", "lease", "last_error"},
	"api_keys":           {"id", "name", "domain_id", "address", "prefix", "hash", "created"},
	"idempotency":        {"key_id", "key", "request_hash", "status", "response", "created"},
}
