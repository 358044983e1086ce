package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/posthorn/posthorn/internal/smtp"
	"github.com/posthorn/posthorn/internal/store"
)

// sendDSN delivers a notification about rcpts of m to m's sender: into
// the INBOX of the local account(s) when the sender's domain is ours,
// else into the queue with the null sender (queued reports that).
// signer (nil for none) signs it first, so the stored copy is the signed
// one and every retry sends the same bytes. Never call it for the null
// sender.
func sendDSN(ctx context.Context, st store.Store, hostname, sep string, m store.QueuedMessage, body []byte, rcpts []dsnRecipient, now time.Time, log *slog.Logger, signer *dsnSigner) (queued bool, err error) {
	d := dsn{ReportingMTA: hostname, Sender: m.From, Arrival: m.Queued, Now: now, Recipients: rcpts, Original: body, UTF8: m.UTF8}
	msg, utf8 := d.build()
	msg = signer.sign(msg)
	at := strings.LastIndexByte(m.From, '@')
	if at < 0 {
		return false, fmt.Errorf("notification: bad sender %q", m.From)
	}
	local, domain := m.From[:at], strings.ToLower(m.From[at+1:])
	accts, err := store.Resolve(ctx, st, strings.ToLower(local), domain, sep)
	switch {
	case errors.Is(err, store.ErrUnknownDomain):
		_, err = st.Enqueue(ctx, store.QueuedMessage{From: "", Recipients: []string{m.From}, Body: msg, UTF8: utf8})
		return err == nil, err
	case errors.Is(err, store.ErrNotFound):
		log.Warn("queue: the sender no longer exists; notification dropped", "queue_id", m.ID, "from", m.From)
		return false, nil
	case err != nil:
		return false, err
	}
	targets := make([]store.Target, len(accts))
	for i, a := range accts {
		targets[i] = store.Target{AccountID: a.ID, Mailbox: store.Inbox}
	}
	withPath := append([]byte("Return-Path: <>\r\n"), msg...)
	_, err = st.Deliver(ctx, store.Delivery{Body: withPath, InternalDate: now, Targets: targets})
	return false, err
}

// ReplyDeleted is the reason given to the sender of a message an
// administrator deleted with a bounce.
var ReplyDeleted = &smtp.Reply{Code: 550, Enhanced: smtp.EnhancedCode{5, 0, 0}, Text: "Message deleted from the queue by the administrator"}

// Bounce removes a queued message and tells its sender that its pending
// recipients failed with reason (administrative "delete with bounce").
// Nothing is sent for the null sender. hostname is the Reporting-MTA; sep
// the subaddress separator; signer, when not nil, signs the notification
// as the Worker's Options.Signer does.
func Bounce(ctx context.Context, st store.Store, hostname, sep string, id int64, reason *smtp.Reply, signer Signer, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := st.QueuedMessage(ctx, id)
	if err != nil {
		return err
	}
	if m.From != "" && len(m.Recipients) > 0 {
		body, err := st.QueuedBody(ctx, id)
		if err != nil {
			return err
		}
		rcpts := make([]dsnRecipient, len(m.Recipients))
		for i, r := range m.Recipients {
			rcpts[i] = dsnRecipient{Address: r, Reply: reason}
		}
		if _, err := sendDSN(ctx, st, hostname, sep, m, body, rcpts, time.Now(), log, newDSNSigner(signer, hostname, log)); err != nil {
			return fmt.Errorf("notification: %w", err)
		}
	}
	return st.RemoveQueued(ctx, id)
}
