package submission

import (
	"slices"
	"testing"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/posthorn/posthorn/internal/store"
)

// Submitted mail is tracked: queued events for the remote copy, delivered
// events for the local one, with one tracking id; a suppressed recipient
// is refused at RCPT with a suppressed event, the others still go.
func TestSubmissionEventsAndSuppression(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	ctx := t.Context()
	if err := e.st.AddSuppression(ctx, store.Suppression{Domain: "example.test", Address: "gone@remote.test", Reason: "hard bounce: 550 5.1.1 unknown"}); err != nil {
		t.Fatal(err)
	}
	c := e.client587()
	if err := c.Auth(sasl.NewPlainClient("", "alice@example.test", alicePW)); err != nil {
		t.Fatal(err)
	}
	body := "From: alice@example.test\r\nSubject: out\r\n\r\nbye\r\n"
	if err := c.Mail("alice@example.test", nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"someone@remote.test", "bob@example.test"} {
		if err := c.Rcpt(r, nil); err != nil {
			t.Fatal(err)
		}
	}
	err := c.Rcpt("Gone@Remote.test", nil)
	wantCode(t, "RCPT to a suppressed address", err, 550, gosmtp.EnhancedCode{5, 1, 1})
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(body))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	q := e.queue()
	if len(q) != 1 || !slices.Equal(q[0].Recipients, []string{"someone@remote.test"}) || q[0].TrackingID == "" || q[0].Domain != "example.test" {
		t.Fatalf("queue = %+v, want someone@remote.test only, tracked for example.test", q)
	}
	evs, err := e.st.QueryEvents(ctx, store.EventFilter{Domain: "example.test"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		if ev.Message != q[0].TrackingID {
			t.Errorf("event %+v: message %q, want the queued tracking id %q", ev, ev.Message, q[0].TrackingID)
		}
		got = append(got, string(ev.Type)+" "+ev.Recipient)
	}
	want := []string{"suppressed Gone@remote.test", "queued someone@remote.test", "delivered bob@example.test"}
	if !slices.Equal(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
	if len(e.inbox("bob@example.test")) != 1 {
		t.Error("bob got nothing")
	}

	// The null sender is not tracked and not checked.
	if _, err := send(t, c, "", []string{"gone@remote.test"}, body); err != nil {
		t.Errorf("bounce-style send to a suppressed address: %v", err)
	}
	if evs2, _ := e.st.QueryEvents(ctx, store.EventFilter{Domain: "example.test"}); len(evs2) != len(evs) {
		t.Errorf("the null sender's message wrote events: %+v", evs2[len(evs):])
	}
}
