package postgres

import (
	"context"

	"github.com/posthorn/posthorn/internal/store"
)

// Mailboxes implements store.Mail; not written yet.
func (s *Store) Mailboxes(ctx context.Context, accountID int64) ([]store.Mailbox, error) {
	return nil, unsupported("Mailboxes")
}

// Mailbox implements store.Mail; not written yet.
func (s *Store) Mailbox(ctx context.Context, accountID int64, name string) (store.Mailbox, error) {
	return store.Mailbox{}, unsupported("Mailbox")
}

// CreateMailbox implements store.Mail; not written yet.
func (s *Store) CreateMailbox(ctx context.Context, accountID int64, name string, use store.SpecialUse) (store.Mailbox, error) {
	return store.Mailbox{}, unsupported("CreateMailbox")
}

// RenameMailbox implements store.Mail; not written yet.
func (s *Store) RenameMailbox(ctx context.Context, accountID int64, from, to string) error {
	return unsupported("RenameMailbox")
}

// DeleteMailbox implements store.Mail; not written yet.
func (s *Store) DeleteMailbox(ctx context.Context, accountID int64, name string) error {
	return unsupported("DeleteMailbox")
}

// SetSubscribed implements store.Mail; not written yet.
func (s *Store) SetSubscribed(ctx context.Context, accountID int64, name string, subscribed bool) error {
	return unsupported("SetSubscribed")
}

// MailboxStatus implements store.Mail; not written yet.
func (s *Store) MailboxStatus(ctx context.Context, mailboxID int64) (store.MailboxStatus, error) {
	return store.MailboxStatus{}, unsupported("MailboxStatus")
}

// Deliver implements store.Mail; not written yet.
func (s *Store) Deliver(ctx context.Context, d store.Delivery) ([]store.Message, error) {
	return nil, unsupported("Deliver")
}

// Append implements store.Mail; not written yet.
func (s *Store) Append(ctx context.Context, mailboxID int64, opts store.AppendOptions, body []byte) (store.Message, error) {
	return store.Message{}, unsupported("Append")
}

// Messages implements store.Mail; not written yet.
func (s *Store) Messages(ctx context.Context, mailboxID int64) ([]store.Message, error) {
	return nil, unsupported("Messages")
}

// MessagesFrom implements store.Mail; not written yet.
func (s *Store) MessagesFrom(ctx context.Context, mailboxID int64, fromUID uint32) ([]store.Message, error) {
	return nil, unsupported("MessagesFrom")
}

// MessageBody implements store.Mail; not written yet.
func (s *Store) MessageBody(ctx context.Context, messageID int64) ([]byte, error) {
	return nil, unsupported("MessageBody")
}

// ForEachBody implements store.Mail; not written yet.
func (s *Store) ForEachBody(ctx context.Context, mailboxID int64, uids []uint32, fn func(m store.Message, body []byte) error) error {
	return unsupported("ForEachBody")
}

// MessageStructure implements store.Mail; not written yet.
func (s *Store) MessageStructure(ctx context.Context, messageID int64) ([]byte, error) {
	return nil, unsupported("MessageStructure")
}

// UpdateFlags implements store.Mail; not written yet.
func (s *Store) UpdateFlags(ctx context.Context, mailboxID int64, uids []uint32, op store.FlagOp, flags []string, unchangedSince uint64) (updated []store.Message, failed []uint32, err error) {
	err = unsupported("UpdateFlags")
	return
}

// Expunge implements store.Mail; not written yet.
func (s *Store) Expunge(ctx context.Context, mailboxID int64, uids []uint32) ([]uint32, error) {
	return nil, unsupported("Expunge")
}

// Copy implements store.Mail; not written yet.
func (s *Store) Copy(ctx context.Context, fromMailboxID int64, uids []uint32, toMailboxID int64) (src, dst []uint32, err error) {
	err = unsupported("Copy")
	return
}

// Move implements store.Mail; not written yet.
func (s *Store) Move(ctx context.Context, fromMailboxID int64, uids []uint32, toMailboxID int64) (src, dst []uint32, err error) {
	err = unsupported("Move")
	return
}

// Changes implements store.Mail; not written yet.
func (s *Store) Changes(ctx context.Context, mailboxID int64, since uint64) ([]store.Change, error) {
	return nil, unsupported("Changes")
}

// Usage implements store.Mail; not written yet.
func (s *Store) Usage(ctx context.Context, accountID int64) (int64, error) {
	return 0, unsupported("Usage")
}
