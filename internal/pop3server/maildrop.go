package pop3server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/posthorn/posthorn/internal/store"
)

// Maildrops is the maildrop state every POP3 server of one process shares:
// the wire sizes of messages already checked. It is safe for concurrent
// use. (The maildrop locks are in the store, shared by every node: see
// dropLock.)
type Maildrops struct {
	mu    sync.Mutex
	sizes map[int64]int64 // message ID -> octets RETR sends
}

// maxSizeCache bounds the wire-size cache (about 40 bytes an entry); when
// it is full it is emptied and refilled as maildrops are opened.
const maxSizeCache = 1 << 18

// NewMaildrops returns empty maildrop state.
func NewMaildrops() *Maildrops {
	return &Maildrops{sizes: map[int64]int64{}}
}

func (m *Maildrops) cachedSize(id int64) (int64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.sizes[id]
	return n, ok
}

func (m *Maildrops) cacheSize(id, n int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.sizes) >= maxSizeCache {
		clear(m.sizes)
	}
	m.sizes[id] = n
}

// maildrop is a session's view of its INBOX: a snapshot taken at login
// (RFC 1939 §4: message numbers stay fixed for the session), with the
// messages marked deleted.
type maildrop struct {
	account     store.Account
	mailboxID   int64
	uidValidity uint32
	msgs        []dropMsg // message number n is msgs[n-1]
}

type dropMsg struct {
	id      int64
	uid     uint32
	size    int64 // octets RETR sends, dot-stuffing and final "." excluded
	deleted bool
}

// openMaildrop takes the snapshot of acct's INBOX. A message's wire size
// is its stored size when the body is already in CRLF form, which is what
// the store keeps (bare CR and LF are refused at SMTP time); each body is
// read once per process to check that, and the result is cached by
// message ID (bodies never change).
func (s *Server) openMaildrop(ctx context.Context, acct store.Account) (*maildrop, error) {
	mb, err := s.store.Mailbox(ctx, acct.ID, store.Inbox)
	if err != nil {
		return nil, err
	}
	msgs, err := s.store.Messages(ctx, mb.ID)
	if err != nil {
		return nil, err
	}
	d := &maildrop{account: acct, mailboxID: mb.ID, uidValidity: mb.UIDValidity, msgs: make([]dropMsg, 0, len(msgs))}
	for _, m := range msgs {
		size, ok := s.drops.cachedSize(m.ID)
		if !ok {
			body, err := s.store.MessageBody(ctx, m.ID)
			if errors.Is(err, store.ErrNotFound) {
				continue // expunged since Messages: not part of the maildrop
			}
			if err != nil {
				return nil, err
			}
			size = wireSize(body)
			s.drops.cacheSize(m.ID, size)
		}
		d.msgs = append(d.msgs, dropMsg{id: m.ID, uid: m.UID, size: size})
	}
	return d, nil
}

// uidl is a message's unique-id (RFC 1939 §7): the mailbox's UIDVALIDITY
// and the store's message ID, which is never reused. The UIDVALIDITY part
// keeps ids from repeating if a store is recreated from scratch (its IDs
// start again at 1, its UIDVALIDITY counter does not). 0x21-0x7E only, at
// most 21 characters.
func (d *maildrop) uidl(m dropMsg) string {
	return strconv.FormatUint(uint64(d.uidValidity), 10) + "." + strconv.FormatInt(m.id, 10)
}

// stat is the number and total size of the messages not marked deleted.
func (d *maildrop) stat() (n int, size int64) {
	for _, m := range d.msgs {
		if !m.deleted {
			n++
			size += m.size
		}
	}
	return n, size
}

// message looks up a message number argument (RFC 1939 §5: a message
// marked deleted may not be referred to).
func (d *maildrop) message(arg string) (int, *dropMsg, reply) {
	n, ok := parseNumber(arg)
	if !ok || n < 1 || n > len(d.msgs) {
		return 0, nil, errReply(codeNone, "No such message")
	}
	m := &d.msgs[n-1]
	if m.deleted {
		return 0, nil, errReply(codeNone, fmt.Sprintf("Message %d already deleted", n))
	}
	return n, m, reply{}
}

// deletedUIDs are the UIDs marked deleted, in message order.
func (d *maildrop) deletedUIDs() []uint32 {
	var uids []uint32
	for _, m := range d.msgs {
		if m.deleted {
			uids = append(uids, m.uid)
		}
	}
	return uids
}

// update is the UPDATE state (RFC 1939 §6): the messages marked deleted
// are flagged \Deleted and expunged, exactly those UIDs, so that \Deleted
// flags set by an IMAP client on other messages stay as they are. Messages
// an IMAP client expunged meanwhile are skipped by the store. It returns
// how many messages were removed.
func (s *Server) update(ctx context.Context, d *maildrop) (int, error) {
	uids := d.deletedUIDs()
	if len(uids) == 0 {
		return 0, nil
	}
	if _, _, err := s.store.UpdateFlags(ctx, d.mailboxID, uids, store.FlagsAdd, []string{`\Deleted`}, 0); err != nil {
		return 0, err
	}
	removed, err := s.store.Expunge(ctx, d.mailboxID, uids)
	return len(removed), err
}
