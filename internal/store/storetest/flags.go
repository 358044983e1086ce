package storetest

import (
	"bytes"
	"slices"
	"testing"

	"github.com/posthorn/posthorn/internal/store"
)

// Flags, MODSEQ, expunge, the change log, copy and move.

func testUpdateFlags(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	a := f.account("alice@example.org")
	inbox := f.mailbox(a.ID, store.Inbox).ID
	f.append(inbox, "1")
	f.append(inbox, "2", "$Old")

	up := f.setFlags(inbox, []uint32{1, 2}, store.FlagsAdd, `\seen`, "$A")
	if len(up) != 2 || up[0].UID != 1 || up[1].UID != 2 {
		t.Fatalf("updated %+v", up)
	}
	wantFlags(t, "add to 1", up[0].Flags, "$A", `\Seen`)
	wantFlags(t, "add to 2", up[1].Flags, "$A", "$Old", `\Seen`)

	up = f.setFlags(inbox, []uint32{2}, store.FlagsRemove, "$A", `\Seen`, `\Answered`)
	wantFlags(t, "remove", up[0].Flags, "$Old")

	up = f.setFlags(inbox, []uint32{1}, store.FlagsReplace, `\Flagged`, `\Recent`, "$B")
	wantFlags(t, "replace", up[0].Flags, "$B", `\Flagged`)
	up = f.setFlags(inbox, []uint32{2}, store.FlagsReplace)
	wantFlags(t, "replace with nothing", up[0].Flags)

	msgs := f.messages(inbox)
	wantFlags(t, "stored 1", msgs[0].Flags, "$B", `\Flagged`)
	wantFlags(t, "stored 2", msgs[1].Flags)

	// UIDs that do not exist are ignored.
	up = f.setFlags(inbox, []uint32{99}, store.FlagsAdd, `\Seen`)
	if len(up) != 0 {
		t.Errorf("UpdateFlags on a missing UID returned %+v", up)
	}
	_, _, err := s.UpdateFlags(ctx, inbox, []uint32{1}, store.FlagsAdd, []string{`\Bogus`}, 0)
	wantErr(t, "UpdateFlags unknown system flag", err, store.ErrInvalid)
	_, _, err = s.UpdateFlags(ctx, inbox+1000, []uint32{1}, store.FlagsAdd, []string{`\Seen`}, 0)
	wantErr(t, "UpdateFlags unknown mailbox", err, store.ErrNotFound)
}

// testUnchangedSince: RFC 7162 STORE (UNCHANGEDSINCE n).
func testUnchangedSince(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	a := f.account("alice@example.org")
	inbox := f.mailbox(a.ID, store.Inbox).ID
	f.append(inbox, "1")
	f.append(inbox, "2")
	f.append(inbox, "3")
	base := f.status(inbox).HighestModSeq
	f.setFlags(inbox, []uint32{2}, store.FlagsAdd, `\Seen`) // someone else was faster

	up, failed, err := s.UpdateFlags(ctx, inbox, []uint32{1, 2, 3}, store.FlagsAdd, []string{`\Flagged`}, base)
	if err != nil {
		t.Fatal(err)
	}
	wantUIDs(t, "failed", failed, 2)
	var upUIDs []uint32
	for _, m := range up {
		upUIDs = append(upUIDs, m.UID)
		wantFlags(t, "updated", m.Flags, `\Flagged`)
	}
	wantUIDs(t, "updated", upUIDs, 1, 3)
	msgs := f.messages(inbox)
	wantFlags(t, "failed message untouched", msgs[1].Flags, `\Seen`)
}

// testModSeq: every change takes a new, higher MODSEQ, and the message
// carries the MODSEQ of its last change.
func testModSeq(t *testing.T, f *fixture) {
	a := f.account("alice@example.org")
	inbox := f.mailbox(a.ID, store.Inbox).ID
	last := f.status(inbox).HighestModSeq
	step := func(what string, msgModSeq uint64) {
		t.Helper()
		hi := f.status(inbox).HighestModSeq
		if hi <= last {
			t.Errorf("%s: HIGHESTMODSEQ %d, not above %d", what, hi, last)
		}
		if msgModSeq != 0 && msgModSeq != hi {
			t.Errorf("%s: message MODSEQ %d, HIGHESTMODSEQ %d", what, msgModSeq, hi)
		}
		last = hi
	}
	m := f.deliver(store.Delivery{Body: []byte("x"), Targets: []store.Target{{AccountID: a.ID}}})[0]
	step("deliver", m.ModSeq)
	m = f.append(inbox, "y")
	step("append", m.ModSeq)
	up := f.setFlags(inbox, []uint32{1}, store.FlagsAdd, `\Seen`)
	step("flag change", up[0].ModSeq)
	if got := f.messages(inbox)[0].ModSeq; got != up[0].ModSeq {
		t.Errorf("stored MODSEQ %d, UpdateFlags said %d", got, up[0].ModSeq)
	}
	f.setFlags(inbox, []uint32{1, 2}, store.FlagsAdd, `\Deleted`)
	step("second flag change", 0)
	f.expunge(inbox, []uint32{2})
	step("expunge", 0)
	// A mailbox's MODSEQ is its own: changes elsewhere do not matter, but
	// do not break monotonicity either.
	f.append(f.mailbox(a.ID, "Sent").ID, "z")
	if hi := f.status(inbox).HighestModSeq; hi < last {
		t.Errorf("HIGHESTMODSEQ went back from %d to %d", last, hi)
	}
}

func testExpunge(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	a := f.account("alice@example.org")
	inbox := f.mailbox(a.ID, store.Inbox).ID
	for i := range 6 {
		f.append(inbox, string(rune('a'+i)))
	}
	f.setFlags(inbox, []uint32{2, 3, 5, 6}, store.FlagsAdd, `\Deleted`)

	// With UIDs: only those carrying \Deleted (UID EXPUNGE, RFC 4315).
	wantUIDs(t, "Expunge 1,2,5", f.expunge(inbox, []uint32{5, 1, 2}), 2, 5)
	wantUIDs(t, "left", f.uids(inbox), 1, 3, 4, 6)
	if got := f.expunge(inbox, []uint32{}); len(got) != 0 {
		t.Errorf("Expunge of no UIDs removed %v", got)
	}
	wantUIDs(t, "Expunge all deleted", f.expunge(inbox, nil), 3, 6)
	wantUIDs(t, "left", f.uids(inbox), 1, 4)
	if got := f.expunge(inbox, nil); len(got) != 0 {
		t.Errorf("Expunge with nothing deleted removed %v", got)
	}
	_, err := s.Expunge(ctx, inbox+1000, nil)
	wantErr(t, "Expunge unknown mailbox", err, store.ErrNotFound)
}

// testChanges: the change log answers "what changed since N" (RFC 7162
// CHANGEDSINCE and QRESYNC). A backend may keep only the latest entry per
// UID, so the test checks the latest entry of each UID.
func testChanges(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	a := f.account("alice@example.org")
	inbox := f.mailbox(a.ID, store.Inbox).ID
	for range 4 {
		f.append(inbox, "m")
	}
	f.setFlags(inbox, []uint32{4}, store.FlagsAdd, `\Answered`)
	since := f.status(inbox).HighestModSeq

	f.setFlags(inbox, []uint32{1}, store.FlagsAdd, `\Seen`)
	f.setFlags(inbox, []uint32{1}, store.FlagsAdd, "$Work")
	f.setFlags(inbox, []uint32{2, 3}, store.FlagsAdd, `\Deleted`)
	f.expunge(inbox, []uint32{2})
	f.setFlags(inbox, []uint32{3}, store.FlagsRemove, `\Deleted`)

	changes, err := s.Changes(ctx, inbox, since)
	if err != nil {
		t.Fatal(err)
	}
	latest := map[uint32]store.Change{}
	for i, c := range changes {
		if c.ModSeq <= since {
			t.Errorf("change %+v not after %d", c, since)
		}
		if i > 0 && c.ModSeq < changes[i-1].ModSeq {
			t.Errorf("changes not in MODSEQ order: %+v", changes)
		}
		latest[c.UID] = c
	}
	if c, ok := latest[1]; !ok || c.Kind != store.ChangeFlags {
		t.Errorf("UID 1: %+v", c)
	} else {
		wantFlags(t, "UID 1 change", c.Flags, "$Work", `\Seen`)
	}
	if c := latest[2]; c.Kind != store.ChangeExpunge {
		t.Errorf("UID 2: %+v, want an expunge", c)
	}
	if c, ok := latest[3]; !ok || c.Kind != store.ChangeFlags || len(c.Flags) != 0 {
		t.Errorf("UID 3: %+v, want a flag change to no flags", c)
	}
	if _, ok := latest[4]; ok {
		t.Errorf("UID 4 changed before %d but is listed", since)
	}
	hi := f.status(inbox).HighestModSeq
	if last := changes[len(changes)-1].ModSeq; last != hi {
		t.Errorf("last change MODSEQ %d, HIGHESTMODSEQ %d", last, hi)
	}
	if changes, err := s.Changes(ctx, inbox, hi); err != nil || len(changes) != 0 {
		t.Errorf("Changes(HIGHESTMODSEQ) = %+v, %v", changes, err)
	}
	all, err := s.Changes(ctx, inbox, 0)
	if err != nil || len(all) < len(latest) {
		t.Errorf("Changes(0) = %+v, %v", all, err)
	}
}

func testCopy(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	a := f.account("alice@example.org")
	b := f.account("bob@example.org")
	inbox := f.mailbox(a.ID, store.Inbox).ID
	archive := f.mailbox(a.ID, "Archive").ID
	f.append(archive, "already there")
	var bodies [][]byte
	for i := range 4 {
		bodies = append(bodies, body(100*(i+1), "copy"))
		if _, err := s.Append(ctx, inbox, store.AppendOptions{Flags: []string{"$K"}}, bodies[i]); err != nil {
			t.Fatal(err)
		}
	}
	f.setFlags(inbox, []uint32{3}, store.FlagsAdd, `\Seen`)
	before := f.status(archive)

	src, dst, err := s.Copy(ctx, inbox, []uint32{3, 1, 99}, archive)
	if err != nil {
		t.Fatal(err)
	}
	wantUIDs(t, "Copy src", src, 1, 3)
	wantUIDs(t, "Copy dst", dst, before.UIDNext, before.UIDNext+1)
	srcMsgs := f.messages(inbox)
	if len(srcMsgs) != 4 {
		t.Errorf("source changed: %+v", srcMsgs)
	}
	after := f.status(archive)
	if after.Messages != 3 || after.UIDNext != before.UIDNext+2 || after.HighestModSeq <= before.HighestModSeq {
		t.Errorf("archive status %+v after %+v", after, before)
	}
	copies := f.messages(archive)[1:]
	for i, m := range copies {
		orig := srcMsgs[src[i]-1]
		if m.UID != dst[i] || m.ID == orig.ID || m.Size != orig.Size || !m.InternalDate.Equal(orig.InternalDate) ||
			!slices.Equal(m.Flags, orig.Flags) {
			t.Errorf("copy %+v of %+v", m, orig)
		}
		if !bytes.Equal(f.body(m.ID), bodies[src[i]-1]) {
			t.Errorf("copy of UID %d: body differs", src[i])
		}
	}

	if src, dst, err := s.Copy(ctx, inbox, []uint32{42}, archive); err != nil || len(src)+len(dst) != 0 {
		t.Errorf("Copy of missing UIDs = %v, %v, %v", src, dst, err)
	}
	if _, _, err := s.Copy(ctx, inbox, []uint32{1}, f.mailbox(b.ID, store.Inbox).ID); err == nil {
		t.Error("Copy into another account's mailbox succeeded")
	}
	_, _, err = s.Copy(ctx, inbox, []uint32{1}, archive+1000)
	wantErr(t, "Copy to unknown mailbox", err, store.ErrNotFound)
}

func testMove(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	a := f.account("alice@example.org")
	inbox := f.mailbox(a.ID, store.Inbox).ID
	trash := f.mailbox(a.ID, "Trash").ID
	for range 3 {
		f.append(inbox, "m", "$K")
	}
	since := f.status(inbox).HighestModSeq
	src, dst, err := s.Move(ctx, inbox, []uint32{2, 3}, trash)
	if err != nil {
		t.Fatal(err)
	}
	wantUIDs(t, "Move src", src, 2, 3)
	wantUIDs(t, "Move dst", dst, 1, 2)
	wantUIDs(t, "left in source", f.uids(inbox), 1)
	moved := f.messages(trash)
	if len(moved) != 2 {
		t.Fatalf("moved: %+v", moved)
	}
	for _, m := range moved {
		wantFlags(t, "moved", m.Flags, "$K")
		if string(f.body(m.ID)) != "m" {
			t.Error("moved body differs")
		}
	}
	changes, err := s.Changes(ctx, inbox, since)
	if err != nil {
		t.Fatal(err)
	}
	var expunged []uint32
	for _, c := range changes {
		if c.Kind == store.ChangeExpunge {
			expunged = append(expunged, c.UID)
		}
	}
	slices.Sort(expunged)
	wantUIDs(t, "expunges logged by Move", expunged, 2, 3)
	if st := f.status(inbox); st.HighestModSeq <= since || st.Messages != 1 {
		t.Errorf("source status after Move %+v", st)
	}
}
