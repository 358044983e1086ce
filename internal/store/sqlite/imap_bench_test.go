package sqlite

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/posthorn/posthorn/internal/message"
	"github.com/posthorn/posthorn/internal/store"
)

// Benchmarks of the reads an IMAP session makes on a big mailbox.

// fillMailbox stores n messages in the INBOX of a new account in one
// transaction, straight in SQL (Deliver would take one commit each): each
// has its own body of about bodySize bytes, "Subject: message i", a line
// with "needle-i" and hex noise; one in four is \Seen, one in ten has a
// keyword.
func fillMailbox(tb testing.TB, s *Store, n, bodySize int) store.Mailbox {
	tb.Helper()
	ctx := context.Background()
	if err := s.AddDomain(ctx, "example.org"); err != nil {
		tb.Fatal(err)
	}
	a, err := s.AddAccount(ctx, "big@example.org", store.Credentials{})
	if err != nil {
		tb.Fatal(err)
	}
	inbox, err := s.Mailbox(ctx, a.ID, store.Inbox)
	if err != nil {
		tb.Fatal(err)
	}
	err = s.write(ctx, func(w *wtx) error {
		if _, err := w.exec(`INSERT INTO blobs (id, data)
			WITH RECURSIVE seq(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM seq WHERE value < ?1)
			SELECT value, CAST('Subject: message ' || value || char(13, 10, 13, 10) || 'needle-' || value || char(13, 10) ||
				hex(randomblob(?2 / 2)) || char(13, 10) AS BLOB)
			FROM seq`, n, bodySize); err != nil {
			return err
		}
		if _, err := w.exec(`INSERT INTO messages (mailbox_id, uid, modseq, sysflags, keywords, internal_date, size, blob_id)
			WITH RECURSIVE seq(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM seq WHERE value < ?2)
			SELECT ?1, value, value + 1, CASE WHEN value % 4 = 0 THEN ?3 ELSE 0 END,
				CASE WHEN value % 10 = 0 THEN '$Work' ELSE '' END, 1700000000000000 + value, ?4, value
			FROM seq`, inbox.ID, n, flagSeen, bodySize); err != nil {
			return err
		}
		_, err := w.exec(`UPDATE mailboxes SET uidnext = ?2 + 1, highestmodseq = ?2 + 1 WHERE id = ?1`, inbox.ID, n)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return inbox
}

// BenchmarkMessages100k: listing a 100,000-message mailbox (what SELECT
// and FETCH 1:* (FLAGS) start from).
func BenchmarkMessages100k(b *testing.B) {
	ctx := context.Background()
	s := openTest(b, filepath.Join(b.TempDir(), "bench.db"))
	inbox := fillMailbox(b, s, 100_000, 200)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		msgs, err := s.Messages(ctx, inbox.ID)
		if err != nil || len(msgs) != 100_000 {
			b.Fatalf("%d messages, %v", len(msgs), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/list")
}

// BenchmarkForEachBody100k: the body walk of SEARCH BODY over 100,000
// messages of about 2 KB, looking for one string.
func BenchmarkForEachBody100k(b *testing.B) {
	ctx := context.Background()
	s := openTest(b, filepath.Join(b.TempDir(), "bench.db"))
	inbox := fillMailbox(b, s, 100_000, 2000)
	needle := []byte("needle-77777\r\n")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		found, n := 0, 0
		err := s.ForEachBody(ctx, inbox.ID, nil, func(m store.Message, body []byte) error {
			n++
			if bytes.Contains(body, needle) {
				found++
			}
			return nil
		})
		if err != nil || found != 1 || n != 100_000 {
			b.Fatalf("walked %d, found %d, %v", n, found, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/walk")
}

// BenchmarkStructure10KB: the cost Deliver and Append add per message by
// computing the IMAP structure (message.Parse + message.Marshal) of a
// 10 KB multipart message, in the caller's goroutine before the write.
func BenchmarkStructure10KB(b *testing.B) {
	var msg bytes.Buffer
	msg.WriteString("Return-Path: <a@example.net>\r\nReceived: from mx.example.net by mx.example.org; Sat, 14 Mar 2026 15:09:26 +0100\r\n" +
		"From: Alice <a@example.net>\r\nTo: Bob <b@example.org>, carol@example.org\r\nSubject: report\r\n" +
		"Date: Sat, 14 Mar 2026 15:09:26 +0100\r\nMessage-ID: <1@example.net>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	for msg.Len() < 5000 {
		msg.WriteString("Some text of the message, seventy characters long or so, line after line.\r\n")
	}
	msg.WriteString("--b1\r\nContent-Type: application/pdf; name=r.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	for msg.Len() < 10200 {
		msg.WriteString("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5\r\n")
	}
	msg.WriteString("--b1--\r\n")
	body := msg.Bytes()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if message.Structure(body) == nil {
			b.Fatal("no structure")
		}
	}
}

// BenchmarkMessageBodyCopies: MessageBody of a 100 KB body allocates the
// body once (B/op about 100 KB); "scan" is the former way, a Scan into a
// []byte, which database/sql copies a second time (about 200 KB).
func BenchmarkMessageBodyCopies(b *testing.B) {
	ctx := context.Background()
	s := openTest(b, filepath.Join(b.TempDir(), "bench.db"))
	inbox := fillMailbox(b, s, 10, 100_000)
	msgs, err := s.Messages(ctx, inbox.ID)
	if err != nil {
		b.Fatal(err)
	}
	id := msgs[3].ID
	b.Run("MessageBody", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if body, err := s.MessageBody(ctx, id); err != nil || len(body) < 100_000 {
				b.Fatal(len(body), err)
			}
		}
	})
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var body []byte
			err := s.queryRow(ctx, `SELECT b.data FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.id = ?`, id).Scan(&body)
			if err != nil || len(body) < 100_000 {
				b.Fatal(len(body), err)
			}
		}
	})
}

// BenchmarkUpdateFlags100k: STORE 1:* +FLAGS (\Seen) and -FLAGS in turn
// on a 100,000-message mailbox, one durable write each (the writer is
// busy for all other deliveries meanwhile).
func BenchmarkUpdateFlags100k(b *testing.B) {
	ctx := context.Background()
	s := openTest(b, filepath.Join(b.TempDir(), "bench.db"))
	inbox := fillMailbox(b, s, 100_000, 200)
	uids := upTo(100_000)
	op := store.FlagsAdd
	for b.Loop() {
		up, _, err := s.UpdateFlags(ctx, inbox.ID, uids, op, []string{`\Seen`}, 0)
		if err != nil || len(up) != 100_000 {
			b.Fatal(len(up), err)
		}
		op = store.FlagsAdd + store.FlagsRemove - op
	}
}
