package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/store/storecopy"
	"github.com/posthorn/posthorn/internal/store/storecopy/storecopytest"
)

// TestVerify runs storecopy.Verify on a store and a copy of its file:
// equal, then with one row changed in the copy, which it must name.
func TestVerify(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, sql, want string
	}{
		{"equal", "", ""},
		{"flag", `UPDATE messages SET sysflags = sysflags | 2 WHERE uid = 1 AND mailbox_id = 1`, "message of alice@a.example INBOX: UID 1"},
		{"body", `UPDATE blobs SET data = CAST('x' || data AS BLOB) WHERE id = (SELECT blob_id FROM messages WHERE uid = 3 AND mailbox_id = 1)`,
			"body of alice@a.example INBOX UID 3"},
		{"uidnext", `UPDATE mailboxes SET uidnext = uidnext - 1 WHERE id = 1`, "status of alice@a.example INBOX"},
		{"change log", `DELETE FROM changes WHERE mailbox_id = 1 AND kind = 2 AND uid = 2`, "change of alice@a.example INBOX"},
		{"password", `UPDATE accounts SET password_hash = 'x' WHERE address = 'bob@a.example'`, "credentials of bob@a.example"},
		{"queue", `UPDATE queue_recipients SET state = 0 WHERE state = 1`, "queued message"},
		{"api key", `UPDATE api_keys SET hash = zeroblob(32)`, "API key: app"},
		{"idempotency", `UPDATE idempotency SET status = 500`, `idempotency record "req-1"`},
		{"event of a removed domain", `UPDATE events SET reply = 'x' WHERE domain = 'c.example'`, "event of c.example"},
		{"webhook", `UPDATE webhook_deliveries SET attempts = 7 WHERE id = 1`, "webhook delivery"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t, filepath.Join(t.TempDir(), "posthorn.db"))
			storecopytest.Fill(t, s)
			src, dst := copyStore(t, s)
			if tc.sql != "" {
				db, err := sql.Open("sqlite", dst.path)
				if err != nil {
					t.Fatal(err)
				}
				_, err = db.Exec(tc.sql)
				db.Close()
				if err != nil {
					t.Fatal(err)
				}
			}
			r, err := storecopy.Verify(ctx, src, dst, src.Export)
			if err != nil {
				t.Fatal(err)
			}
			if r.Checked.Messages == 0 || r.Checked.Queued == 0 || r.Checked.Events == 0 || r.Checked.WebhookDeliveries == 0 || r.Checked.Idempotency == 0 {
				t.Errorf("checked too little: %+v", r.Checked)
			}
			if tc.want == "" {
				if !r.OK() {
					t.Errorf("differences between equal stores: %q", r.Differences)
				}
				return
			}
			if r.OK() || !strings.Contains(strings.Join(r.Differences, "\n"), tc.want) {
				t.Errorf("differences %q (%d), want one naming %q", r.Differences, r.Mismatches, tc.want)
			}
		})
	}
}
