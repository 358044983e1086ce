package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/posthorn/posthorn/internal/message"
	"github.com/posthorn/posthorn/internal/store"
)

// What the IMAP server needs beyond the basics: the tail of a mailbox,
// bodies for SEARCH, the cached MIME structure, UNCHANGEDSINCE 0.

func testMessagesFrom(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	a := f.account("alice@example.org")
	inbox := f.mailbox(a.ID, store.Inbox).ID
	for i := range 6 {
		f.append(inbox, fmt.Sprint(i), "$K", `\Seen`)
	}
	f.setFlags(inbox, []uint32{2, 4}, store.FlagsAdd, `\Deleted`)
	f.expunge(inbox, nil)
	all := f.messages(inbox)
	wantUIDs(t, "Messages", uidsOf(all), 1, 3, 5, 6)
	for _, tc := range []struct {
		from uint32
		want []uint32
	}{{0, []uint32{1, 3, 5, 6}}, {1, []uint32{1, 3, 5, 6}}, {2, []uint32{3, 5, 6}}, {5, []uint32{5, 6}}, {6, []uint32{6}}, {7, nil}, {1 << 31, nil}} {
		got, err := s.MessagesFrom(ctx, inbox, tc.from)
		if err != nil {
			t.Fatalf("MessagesFrom(%d): %v", tc.from, err)
		}
		wantUIDs(t, fmt.Sprintf("MessagesFrom(%d)", tc.from), uidsOf(got), tc.want...)
		for _, m := range got {
			i := slices.IndexFunc(all, func(o store.Message) bool { return o.UID == m.UID })
			o := all[i]
			if m.ID != o.ID || m.MailboxID != inbox || m.ModSeq != o.ModSeq || m.Size != o.Size ||
				!m.InternalDate.Equal(o.InternalDate) || !slices.Equal(m.Flags, o.Flags) {
				t.Errorf("MessagesFrom(%d): %+v, Messages says %+v", tc.from, m, o)
			}
			wantFlags(t, "MessagesFrom", m.Flags, "$K", `\Seen`)
		}
	}
	_, err := s.MessagesFrom(ctx, inbox+1000, 1)
	wantErr(t, "MessagesFrom of an unknown mailbox", err, store.ErrNotFound)
}

func uidsOf(msgs []store.Message) []uint32 {
	var uids []uint32
	for _, m := range msgs {
		uids = append(uids, m.UID)
	}
	return uids
}

func testForEachBody(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	a := f.account("alice@example.org")
	inbox := f.mailbox(a.ID, store.Inbox).ID
	bodies := map[uint32][]byte{}
	for i := range 5 {
		b := body(500*(i+1), fmt.Sprint("message ", i))
		m, err := s.Append(ctx, inbox, store.AppendOptions{Flags: []string{`\Flagged`}}, b)
		if err != nil {
			t.Fatal(err)
		}
		bodies[m.UID] = b
	}
	f.append(inbox, "", `\Flagged`) // an empty body is an empty slice
	bodies[6] = []byte{}

	walk := func(uids []uint32) ([]uint32, error) {
		var seen []uint32
		err := s.ForEachBody(ctx, inbox, uids, func(m store.Message, body []byte) error {
			seen = append(seen, m.UID)
			if m.MailboxID != inbox || m.Size != int64(len(body)) || m.ID == 0 || m.ModSeq == 0 {
				t.Errorf("ForEachBody: message %+v with a %d-byte body", m, len(body))
			}
			if !bytes.Equal(body, bodies[m.UID]) || body == nil {
				t.Errorf("ForEachBody: UID %d: body differs", m.UID)
			}
			wantFlags(t, "ForEachBody", m.Flags, `\Flagged`)
			return nil
		})
		return seen, err
	}
	seen, err := walk(nil)
	if err != nil {
		t.Fatal(err)
	}
	wantUIDs(t, "ForEachBody(nil)", seen, 1, 2, 3, 4, 5, 6)
	seen, err = walk([]uint32{5, 99, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	wantUIDs(t, "ForEachBody(5,99,2,3)", seen, 2, 3, 5)
	seen, err = walk([]uint32{})
	if err != nil || len(seen) != 0 {
		t.Errorf("ForEachBody(empty) = %v, %v", seen, err)
	}

	// fn's error stops the walk and comes back as is.
	stop := errors.New("stop")
	n := 0
	err = s.ForEachBody(ctx, inbox, nil, func(store.Message, []byte) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if err != stop || n != 2 {
		t.Errorf("ForEachBody with fn failing at the second: %d calls, %v", n, err)
	}
	// Writes while a walk runs do not deadlock it (one snapshot; the
	// writer is not blocked by the reader).
	err = s.ForEachBody(ctx, inbox, []uint32{1}, func(store.Message, []byte) error {
		_, err := s.Append(ctx, inbox, store.AppendOptions{}, []byte("during"))
		return err
	})
	if err != nil {
		t.Errorf("Append inside ForEachBody: %v", err)
	}
	err = s.ForEachBody(ctx, inbox+1000, nil, func(store.Message, []byte) error { return nil })
	wantErr(t, "ForEachBody of an unknown mailbox", err, store.ErrNotFound)
	err = s.ForEachBody(ctx, f.mailbox(a.ID, "Trash").ID, nil, func(store.Message, []byte) error {
		t.Error("fn called for an empty mailbox")
		return nil
	})
	if err != nil {
		t.Errorf("ForEachBody of an empty mailbox: %v", err)
	}
}

// structureSample is a multipart message whose structure has offsets,
// an envelope and a nested message.
const structureSample = "From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: parts\r\n" +
	"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\npreamble\r\n" +
	"--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n" +
	"--XX\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n" +
	"--XX--\r\n"

func testMessageStructure(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	a := f.account("alice@example.org")
	b := f.account("bob@example.org")
	want := func(body string) []byte {
		p, err := message.Parse([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return message.Marshal(p)
	}
	check := func(what string, id int64, body string) {
		t.Helper()
		got, err := s.MessageStructure(ctx, id)
		if err != nil {
			t.Fatalf("%s: MessageStructure: %v", what, err)
		}
		if !bytes.Equal(got, want(body)) {
			t.Errorf("%s: structure differs from message.Marshal(message.Parse(body))", what)
		}
		if _, err := message.Unmarshal(got); err != nil {
			t.Errorf("%s: Unmarshal: %v", what, err)
		}
	}
	msgs := f.deliver(store.Delivery{Body: []byte(structureSample), Targets: []store.Target{{AccountID: a.ID}, {AccountID: b.ID}}})
	check("Deliver", msgs[0].ID, structureSample)
	check("Deliver, second target", msgs[1].ID, structureSample)
	plain := "Subject: plain\r\n\r\njust text\r\n"
	m := f.append(f.mailbox(a.ID, "Drafts").ID, plain)
	check("Append", m.ID, plain)
	e := f.append(f.mailbox(a.ID, "Drafts").ID, "")
	check("Append of an empty body", e.ID, "")
	inbox := f.mailbox(a.ID, store.Inbox).ID
	_, dst, err := s.Copy(ctx, inbox, []uint32{msgs[0].UID}, f.mailbox(a.ID, "Archive").ID)
	if err != nil {
		t.Fatal(err)
	}
	copied := f.messages(f.mailbox(a.ID, "Archive").ID)
	if len(copied) != 1 || copied[0].UID != dst[0] {
		t.Fatalf("copied: %+v", copied)
	}
	check("Copy", copied[0].ID, structureSample)
	// The structure lives as long as a message using the body does.
	f.setFlags(inbox, []uint32{msgs[0].UID}, store.FlagsAdd, `\Deleted`)
	f.expunge(inbox, nil)
	check("Copy after the original's expunge", copied[0].ID, structureSample)
	_, err = s.MessageStructure(ctx, msgs[0].ID)
	wantErr(t, "MessageStructure of an expunged message", err, store.ErrNotFound)
}

// testUnchangedSinceZero: RFC 7162 §3.1.3, UNCHANGEDSINCE 0 fails for
// every message; 0 itself still means no check.
func testUnchangedSinceZero(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	a := f.account("alice@example.org")
	inbox := f.mailbox(a.ID, store.Inbox).ID
	f.append(inbox, "1")
	f.append(inbox, "2", `\Seen`)
	before := f.status(inbox).HighestModSeq
	up, failed, err := s.UpdateFlags(ctx, inbox, []uint32{2, 1, 9}, store.FlagsAdd, []string{`\Flagged`}, store.UnchangedSinceZero)
	if err != nil {
		t.Fatal(err)
	}
	if len(up) != 0 {
		t.Errorf("UNCHANGEDSINCE 0 updated %+v", up)
	}
	wantUIDs(t, "UNCHANGEDSINCE 0 failed", failed, 1, 2)
	if st := f.status(inbox); st.HighestModSeq != before {
		t.Errorf("HIGHESTMODSEQ moved from %d to %d without a change", before, st.HighestModSeq)
	}
	for _, m := range f.messages(inbox) {
		if slices.Contains(m.Flags, `\Flagged`) {
			t.Errorf("UID %d flagged by a STORE that failed", m.UID)
		}
	}
	up, failed, err = s.UpdateFlags(ctx, inbox, []uint32{1, 2}, store.FlagsAdd, []string{`\Flagged`}, 0)
	if err != nil || len(up) != 2 || len(failed) != 0 {
		t.Errorf("UpdateFlags without a check = %+v, %v, %v", up, failed, err)
	}
}

// testResync: what an IMAP session does to catch up (QRESYNC, or a
// session woken by Watch): from its state at MODSEQ S with UIDs up to n,
// Changes(S) plus MessagesFrom(n+1) rebuild exactly what Messages lists
// now, after every kind of change.
func testResync(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	a := f.account("alice@example.org")
	inbox := f.mailbox(a.ID, store.Inbox).ID
	archive := f.mailbox(a.ID, "Archive").ID
	for i := range 6 {
		f.append(inbox, fmt.Sprint("old ", i), "$Old")
	}
	f.append(archive, "to be copied in", `\Flagged`)
	type state struct {
		flags  []string
		modseq uint64
	}
	known := map[uint32]state{}
	for _, m := range f.messages(inbox) {
		known[m.UID] = state{m.Flags, m.ModSeq}
	}
	since, lastUID := f.status(inbox).HighestModSeq, uint32(6)

	f.deliver(store.Delivery{Body: []byte("new 1"), Targets: []store.Target{{AccountID: a.ID}}})
	f.deliver(store.Delivery{Body: []byte("new 2"), Targets: []store.Target{{AccountID: a.ID}}})
	f.setFlags(inbox, []uint32{1, 7}, store.FlagsAdd, `\Seen`)
	f.setFlags(inbox, []uint32{2, 8}, store.FlagsAdd, `\Deleted`)
	f.expunge(inbox, nil)
	if _, _, err := s.Move(ctx, inbox, []uint32{3}, archive); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Copy(ctx, archive, []uint32{1}, inbox); err != nil {
		t.Fatal(err)
	}
	f.setFlags(inbox, []uint32{4}, store.FlagsReplace)

	changes, err := s.Changes(ctx, inbox, since)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range changes {
		if c.ModSeq <= since {
			t.Errorf("change %+v not after %d", c, since)
		}
		if c.UID > lastUID {
			continue // new since: MessagesFrom has it
		}
		switch c.Kind {
		case store.ChangeExpunge:
			delete(known, c.UID)
		case store.ChangeFlags:
			known[c.UID] = state{c.Flags, c.ModSeq}
		}
	}
	tail, err := s.MessagesFrom(ctx, inbox, lastUID+1)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range tail {
		if m.ModSeq <= since {
			t.Errorf("new message %+v has a MODSEQ not after %d", m, since)
		}
		known[m.UID] = state{m.Flags, m.ModSeq}
	}
	now := f.messages(inbox)
	if len(now) != len(known) {
		t.Errorf("resync knows %d messages, the mailbox has %d: %+v", len(known), len(now), known)
	}
	for _, m := range now {
		k, ok := known[m.UID]
		if !ok || !slices.Equal(k.flags, m.Flags) || k.modseq != m.ModSeq {
			t.Errorf("UID %d: resync has %+v (known %v), the mailbox %v MODSEQ %d", m.UID, k, ok, m.Flags, m.ModSeq)
		}
	}
	wantUIDs(t, "after all changes", uidsOf(now), 1, 4, 5, 6, 7, 9)
}

// testForEachBodyCanceled: a context cancelled during the walk ends it
// with the context's error.
func testForEachBodyCanceled(t *testing.T, f *fixture) {
	a := f.account("alice@example.org")
	inbox := f.mailbox(a.ID, store.Inbox).ID
	for range 50 {
		f.append(inbox, "m")
	}
	ctx, cancel := context.WithCancel(f.ctx)
	defer cancel()
	n := 0
	err := f.s.ForEachBody(ctx, inbox, nil, func(store.Message, []byte) error {
		n++
		if n == 2 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || n >= 50 {
		t.Errorf("ForEachBody cancelled at the second message: %d calls, %v; want context.Canceled", n, err)
	}
}
