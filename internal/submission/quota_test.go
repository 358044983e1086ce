package submission

import (
	"context"
	"testing"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// TestSubmitOverQuota: a local recipient whose account would go beyond
// its quota gets the message refused at the end of DATA with 452 4.2.2,
// nothing stored; with room again it goes through.
func TestSubmitOverQuota(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	if err := e.st.SetQuota(ctx, "bob@example.test", 50); err != nil {
		t.Fatal(err)
	}
	c := e.client587()
	if err := c.Auth(sasl.NewPlainClient("", "alice@example.test", alicePW)); err != nil {
		t.Fatal(err)
	}
	_, err := send(t, c, "alice@example.test", []string{"bob@example.test"}, msgBody)
	wantCode(t, "message beyond bob's quota", err, 452, gosmtp.EnhancedCode{4, 2, 2})
	if got := e.inbox("bob@example.test"); len(got) != 0 {
		t.Errorf("bob's INBOX holds %q", got)
	}
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetQuota(ctx, "bob@example.test", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := send(t, c, "alice@example.test", []string{"bob@example.test"}, msgBody); err != nil {
		t.Fatalf("with the quota lifted: %v", err)
	}
	if got := e.inbox("bob@example.test"); len(got) != 1 {
		t.Errorf("bob's INBOX holds %d messages, want 1", len(got))
	}
}
