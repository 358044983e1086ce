package storetest

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

func testDeliverShared(t *testing.T, f *fixture) {
	a := f.account("alice@example.org")
	b := f.account("bob@example.org")
	c := f.account("carol@example.com")
	body := body(10<<10, "shared")
	msgs := f.deliver(store.Delivery{Body: body, Targets: []store.Target{
		{AccountID: a.ID},
		{AccountID: b.ID, Mailbox: "Archive"},
		{AccountID: c.ID, Mailbox: "Does/Not/Exist"},
	}})
	want := []int64{f.mailbox(a.ID, store.Inbox).ID, f.mailbox(b.ID, "Archive").ID, f.mailbox(c.ID, store.Inbox).ID}
	ids := map[int64]bool{}
	for i, m := range msgs {
		if m.MailboxID != want[i] {
			t.Errorf("target %d: mailbox %d, want %d", i, m.MailboxID, want[i])
		}
		if m.UID != 1 || m.Size != int64(len(body)) || m.ID == 0 || m.ModSeq == 0 {
			t.Errorf("target %d: %+v", i, m)
		}
		ids[m.ID] = true
		if got := f.body(m.ID); !bytes.Equal(got, body) {
			t.Errorf("target %d: body differs (%d bytes, want %d)", i, len(got), len(body))
		}
		list := f.messages(m.MailboxID)
		if len(list) != 1 || list[0].ID != m.ID || list[0].UID != m.UID || list[0].ModSeq != m.ModSeq || list[0].Size != m.Size {
			t.Errorf("target %d: Messages = %+v, Deliver returned %+v", i, list, m)
		}
	}
	if len(ids) != 3 {
		t.Errorf("message IDs not distinct: %+v", msgs)
	}
	// Two targets in one account, and an empty body.
	msgs = f.deliver(store.Delivery{Body: nil, Targets: []store.Target{{AccountID: a.ID}, {AccountID: a.ID, Mailbox: "Junk"}}})
	if msgs[0].UID != 2 || msgs[1].UID != 1 || msgs[0].Size != 0 {
		t.Errorf("second delivery: %+v", msgs)
	}
	if got := f.body(msgs[1].ID); len(got) != 0 {
		t.Errorf("empty body read back as %q", got)
	}
}

// testDeliverBufferReuse: the caller may reuse the body buffer once
// Deliver returns.
func testDeliverBufferReuse(t *testing.T, f *fixture) {
	a := f.account("alice@example.org")
	buf := body(4000, "reuse")
	want := bytes.Clone(buf)
	m := f.deliver(store.Delivery{Body: buf, Targets: []store.Target{{AccountID: a.ID}}})[0]
	for i := range buf {
		buf[i] = 'X'
	}
	if !bytes.Equal(f.body(m.ID), want) {
		t.Error("stored body changed when the caller reused its buffer")
	}
}

func testDeliverErrors(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	a := f.account("alice@example.org")
	inbox := f.mailbox(a.ID, store.Inbox)
	_, err := s.Deliver(ctx, store.Delivery{Body: []byte("x")})
	wantErr(t, "Deliver without targets", err, store.ErrInvalid)
	_, err = s.Deliver(ctx, store.Delivery{Body: []byte("x"), Targets: []store.Target{{AccountID: a.ID + 1000}}})
	wantErr(t, "Deliver to an unknown account", err, store.ErrNotFound)
	_, err = s.Deliver(ctx, store.Delivery{Body: []byte("x"), Targets: []store.Target{{AccountID: a.ID, Flags: []string{`\Bogus`}}}})
	wantErr(t, "Deliver with an unknown system flag", err, store.ErrInvalid)
	// All or nothing: one bad target stores nothing for the good one.
	_, err = s.Deliver(ctx, store.Delivery{Body: []byte("x"), Targets: []store.Target{{AccountID: a.ID}, {AccountID: a.ID + 1000}}})
	wantErr(t, "Deliver with one unknown account", err, store.ErrNotFound)
	if st := f.status(inbox.ID); st.Messages != 0 || st.UIDNext != 1 {
		t.Errorf("failed deliveries left %+v", st)
	}
}

func testDeliverFlagsAndDate(t *testing.T, f *fixture) {
	a := f.account("alice@example.org")
	date := time.Date(2024, 2, 29, 13, 14, 15, 0, time.FixedZone("x", 3600))
	msgs := f.deliver(store.Delivery{Body: []byte("x"), InternalDate: date, Targets: []store.Target{
		{AccountID: a.ID, Flags: []string{`\seen`, "$Label", `\Recent`, `\FLAGGED`, "$Label", `\Seen`}},
		{AccountID: a.ID, Mailbox: "Sent"},
	}})
	wantFlags(t, "Deliver", msgs[0].Flags, "$Label", `\Flagged`, `\Seen`)
	wantFlags(t, "Deliver without flags", msgs[1].Flags)
	if !msgs[0].InternalDate.Equal(date) {
		t.Errorf("InternalDate %v, want %v", msgs[0].InternalDate, date)
	}
	got := f.messages(msgs[0].MailboxID)[0]
	wantFlags(t, "Messages", got.Flags, "$Label", `\Flagged`, `\Seen`)
	if !got.InternalDate.Equal(date) {
		t.Errorf("stored InternalDate %v, want %v", got.InternalDate, date)
	}

	before := time.Now().Add(-time.Minute)
	m := f.deliver(store.Delivery{Body: []byte("y"), Targets: []store.Target{{AccountID: a.ID}}})[0]
	if m.InternalDate.Before(before) || m.InternalDate.After(time.Now().Add(time.Minute)) {
		t.Errorf("zero InternalDate stored as %v, want about now", m.InternalDate)
	}
}

func testAppend(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	a := f.account("alice@example.org")
	drafts := f.mailbox(a.ID, "Drafts")
	date := time.Date(2023, 12, 31, 23, 59, 59, 0, time.UTC)
	body := body(3000, "draft")
	m, err := s.Append(ctx, drafts.ID, store.AppendOptions{Flags: []string{`\Draft`, `\Seen`}, InternalDate: date}, body)
	if err != nil {
		t.Fatal(err)
	}
	if m.MailboxID != drafts.ID || m.UID != 1 || m.Size != int64(len(body)) || !m.InternalDate.Equal(date) {
		t.Errorf("Append = %+v", m)
	}
	wantFlags(t, "Append", m.Flags, `\Draft`, `\Seen`)
	if !bytes.Equal(f.body(m.ID), body) {
		t.Error("body differs")
	}
	if m2 := f.append(drafts.ID, "second"); m2.UID != 2 || m2.ID == m.ID || m2.ModSeq <= m.ModSeq {
		t.Errorf("second Append = %+v after %+v", m2, m)
	}
	_, err = s.Append(ctx, drafts.ID+1000, store.AppendOptions{}, body)
	wantErr(t, "Append to unknown mailbox", err, store.ErrNotFound)
	_, err = s.Append(ctx, drafts.ID, store.AppendOptions{Flags: []string{`\Bogus`}}, body)
	wantErr(t, "Append with unknown system flag", err, store.ErrInvalid)
	_, err = s.MessageBody(ctx, m.ID+1000)
	wantErr(t, "MessageBody unknown", err, store.ErrNotFound)
	_, err = s.Messages(ctx, drafts.ID+1000)
	wantErr(t, "Messages of unknown mailbox", err, store.ErrNotFound)
	if msgs := f.messages(f.mailbox(a.ID, "Trash").ID); len(msgs) != 0 {
		t.Errorf("empty mailbox lists %+v", msgs)
	}
}

// testUIDsNotReused: UIDs only grow, also across expunges of the
// highest UID; message IDs are never reused either.
func testUIDsNotReused(t *testing.T, f *fixture) {
	a := f.account("alice@example.org")
	inbox := f.mailbox(a.ID, store.Inbox)
	var maxID int64
	add := func(wantUID uint32) {
		t.Helper()
		m := f.deliver(store.Delivery{Body: []byte("x"), Targets: []store.Target{{AccountID: a.ID}}})[0]
		if m.UID != wantUID {
			t.Errorf("UID %d, want %d", m.UID, wantUID)
		}
		if m.ID <= maxID {
			t.Errorf("message ID %d not above earlier %d", m.ID, maxID)
		}
		maxID = m.ID
	}
	add(1)
	add(2)
	add(3)
	f.setFlags(inbox.ID, []uint32{3}, store.FlagsAdd, `\Deleted`)
	wantUIDs(t, "Expunge", f.expunge(inbox.ID, nil), 3)
	add(4)
	f.setFlags(inbox.ID, []uint32{1, 2, 4}, store.FlagsAdd, `\Deleted`)
	wantUIDs(t, "Expunge all", f.expunge(inbox.ID, nil), 1, 2, 4)
	add(5)
	wantUIDs(t, "Messages", f.uids(inbox.ID), 5)
	if st := f.status(inbox.ID); st.UIDNext != 6 {
		t.Errorf("UIDNext %d, want 6", st.UIDNext)
	}
}

func testMailboxStatus(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	a := f.account("alice@example.org")
	inbox := f.mailbox(a.ID, store.Inbox)
	st := f.status(inbox.ID)
	if st.Messages != 0 || st.Unseen != 0 || st.Deleted != 0 || st.Size != 0 || st.UIDNext != 1 ||
		st.UIDValidity != inbox.UIDValidity || st.HighestModSeq == 0 {
		t.Errorf("empty INBOX status %+v", st)
	}
	f.append(inbox.ID, "12345", `\Seen`)
	f.append(inbox.ID, "1234567890")
	f.append(inbox.ID, "123", `\Deleted`, `\Seen`)
	last := f.append(inbox.ID, "1", `\Deleted`)
	st = f.status(inbox.ID)
	want := store.MailboxStatus{Messages: 4, Unseen: 2, Deleted: 2, Size: 19, UIDNext: 5,
		UIDValidity: inbox.UIDValidity, HighestModSeq: last.ModSeq}
	if st != want {
		t.Errorf("status %+v, want %+v", st, want)
	}
	_, err := s.MailboxStatus(ctx, inbox.ID+1000)
	wantErr(t, "MailboxStatus unknown", err, store.ErrNotFound)
}

// testSharedBodyLifetime: a body shared by several messages stays until
// the last of them goes.
func testSharedBodyLifetime(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	a := f.account("alice@example.org")
	b := f.account("bob@example.org")
	body := body(2000, "shared")
	msgs := f.deliver(store.Delivery{Body: body, Targets: []store.Target{{AccountID: a.ID}, {AccountID: b.ID}}})
	src, dst, err := s.Copy(ctx, msgs[0].MailboxID, []uint32{msgs[0].UID}, f.mailbox(a.ID, "Archive").ID)
	if err != nil || len(src) != 1 || len(dst) != 1 {
		t.Fatalf("Copy = %v, %v, %v", src, dst, err)
	}
	f.setFlags(msgs[0].MailboxID, []uint32{msgs[0].UID}, store.FlagsAdd, `\Deleted`)
	f.expunge(msgs[0].MailboxID, nil)
	_, err = s.MessageBody(ctx, msgs[0].ID)
	wantErr(t, "MessageBody of expunged message", err, store.ErrNotFound)
	if !bytes.Equal(f.body(msgs[1].ID), body) {
		t.Error("other recipient's body changed")
	}
	if err := s.RemoveAccount(ctx, "bob@example.org"); err != nil {
		t.Fatal(err)
	}
	archived := f.messages(f.mailbox(a.ID, "Archive").ID)
	if len(archived) != 1 || !bytes.Equal(f.body(archived[0].ID), body) {
		t.Errorf("copy lost its body: %+v", archived)
	}
}

func testRemoveAccount(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	a := f.account("alice@example.org")
	b := f.account("bob@example.org")
	msgs := f.deliver(store.Delivery{Body: []byte("hi"), Targets: []store.Target{{AccountID: a.ID}, {AccountID: b.ID}}})
	inbox := f.mailbox(a.ID, store.Inbox)
	if err := s.RemoveAccount(ctx, "alice@example.org"); err != nil {
		t.Fatal(err)
	}
	_, err := s.MessageBody(ctx, msgs[0].ID)
	wantErr(t, "MessageBody after RemoveAccount", err, store.ErrNotFound)
	_, err = s.MailboxStatus(ctx, inbox.ID)
	wantErr(t, "MailboxStatus after RemoveAccount", err, store.ErrNotFound)
	_, err = s.Deliver(ctx, store.Delivery{Body: []byte("x"), Targets: []store.Target{{AccountID: a.ID}}})
	wantErr(t, "Deliver to removed account", err, store.ErrNotFound)
	if got := f.messages(msgs[1].MailboxID); len(got) != 1 || !slices.Equal(f.body(got[0].ID), []byte("hi")) {
		t.Errorf("other account's copy: %+v", got)
	}
}
