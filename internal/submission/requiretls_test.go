package submission

import (
	"testing"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// REQUIRETLS on MAIL FROM (RFC 8689) is recorded with the queued copy, so
// the delivery worker can enforce it; a later transaction without it is
// not marked.
func TestSubmitREQUIRETLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	c := e.client587()
	if err := c.Auth(sasl.NewPlainClient("", "alice@example.test", alicePW)); err != nil {
		t.Fatal(err)
	}
	for _, req := range []bool{true, false} {
		if err := c.Mail("alice@example.test", &gosmtp.MailOptions{RequireTLS: req}); err != nil {
			t.Fatalf("MAIL REQUIRETLS=%v: %v", req, err)
		}
		if err := c.Rcpt("x@remote.test", nil); err != nil {
			t.Fatal(err)
		}
		w, err := c.Data()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("From: alice@example.test\r\nSubject: s\r\n\r\nsecret\r\n")); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	q := e.queue()
	if len(q) != 2 || !q[0].RequireTLS || q[1].RequireTLS {
		t.Errorf("queue RequireTLS = %v, want [true false]", func() (r []bool) {
			for _, m := range q {
				r = append(r, m.RequireTLS)
			}
			return
		}())
	}
}
