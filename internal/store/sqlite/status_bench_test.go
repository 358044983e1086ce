package sqlite

import (
	"context"
	"path/filepath"
	"testing"
)

// BenchmarkMailboxStatus100k: STATUS (and SELECT's counters) of a
// 100,000-message mailbox.
func BenchmarkMailboxStatus100k(b *testing.B) {
	ctx := context.Background()
	s := openTest(b, filepath.Join(b.TempDir(), "bench.db"))
	inbox := fillMailbox(b, s, 100_000, 200)
	b.ReportAllocs()
	for b.Loop() {
		st, err := s.MailboxStatus(ctx, inbox.ID)
		if err != nil || st.Messages != 100_000 || st.Unseen != 75_000 {
			b.Fatalf("%+v, %v", st, err)
		}
	}
}
