package smtpserver

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/posthorn/posthorn/internal/metrics"
	"github.com/posthorn/posthorn/internal/smtp"
)

// TestMetricsCounts: one count per transaction by its outcome (MAIL
// refused by the policy included); abandoned
// transactions are not messages; connections are counted open and
// closed, and refused over the limit.
func TestMetricsCounts(t *testing.T) {
	t.Parallel()
	r := metrics.New()
	_, addr := startServer(t, Options{MaxConnectionsPerIP: 2, MaxMessageBytes: 1000,
		Conns: r.Conns("smtp"), Received: r.Received("smtp")}, mailRejecter{&fakeBackend{}})
	c := dialGreeted(t, addr)
	c.Write("EHLO client.test\r\n")
	c.ExpectReply("250 ")
	dialog := []struct{ send, want string }{
		// Accepted.
		{"MAIL FROM:<a@remote.test>\r\n", "250 "}, {"RCPT TO:<b@example.test>\r\n", "250 "}, {"DATA\r\n", "354 "},
		{"Subject: x\r\n\r\nhi\r\n.\r\n", "250 "},
		// Refused at RCPT (550), then RSET: one permanent rejection.
		{"MAIL FROM:<a@remote.test>\r\n", "250 "}, {"RCPT TO:<unknown@example.test>\r\n", "550 "}, {"RSET\r\n", "250 "},
		// A backend failure at RCPT is 451: one temporary rejection.
		{"MAIL FROM:<a@remote.test>\r\n", "250 "}, {"RCPT TO:<fail@example.test>\r\n", "451 "}, {"RSET\r\n", "250 "},
		// Refused by the policy at MAIL (a blocklist, say): permanent.
		{"MAIL FROM:<spam@remote.test>\r\n", "554 "},
		// Abandoned: not counted.
		{"MAIL FROM:<a@remote.test>\r\n", "250 "}, {"RCPT TO:<b@example.test>\r\n", "250 "}, {"RSET\r\n", "250 "},
		// Too big: 552, permanent.
		{"MAIL FROM:<a@remote.test>\r\n", "250 "}, {"RCPT TO:<b@example.test>\r\n", "250 "}, {"DATA\r\n", "354 "},
		{strings.Repeat(strings.Repeat("x", 70)+"\r\n", 30) + ".\r\n", "552 "},
		// A bare LF: 550, permanent.
		{"MAIL FROM:<a@remote.test>\r\n", "250 "}, {"RCPT TO:<b@example.test>\r\n", "250 "}, {"DATA\r\n", "354 "},
		{"Subject: x\r\n\r\nbare\nLF\r\n.\r\n", "550 "},
	}
	for _, d := range dialog {
		c.Write(d.send)
		c.ExpectReply(d.want)
	}
	c2 := dialGreeted(t, addr)
	refused := dial(t, addr) // the third from this IP
	refused.ExpectReply("421 ")
	c.Write("QUIT\r\n")
	c.ExpectReply("221 ")
	c2.Write("QUIT\r\n")
	c2.ExpectReply("221 ")

	want := `
# HELP posthorn_messages_received_total Messages offered to posthorn, by listener role (smtp, submission, submissions, api, sendmail) and result (accepted, rejected_temporary for 4xx, rejected_permanent for 5xx). One per transaction, whatever its recipients.
# TYPE posthorn_messages_received_total counter
posthorn_messages_received_total{listener="smtp",result="accepted"} 1
posthorn_messages_received_total{listener="smtp",result="rejected_permanent"} 4
posthorn_messages_received_total{listener="smtp",result="rejected_temporary"} 1
# HELP posthorn_connections_open Connections open now, by protocol (listener role).
# TYPE posthorn_connections_open gauge
posthorn_connections_open{protocol="smtp"} 0
# HELP posthorn_connections_total Connections received, by protocol (listener role) and result (accepted, or refused over a connection limit, during shutdown or without a trusted PROXY header).
# TYPE posthorn_connections_total counter
posthorn_connections_total{protocol="smtp",result="accepted"} 2
posthorn_connections_total{protocol="smtp",result="refused"} 1
`
	// Connections are released after the server reads the QUIT's EOF.
	deadline := time.Now().Add(testTimeout)
	for {
		err := testutil.GatherAndCompare(r.Gatherer(), strings.NewReader(want),
			"posthorn_messages_received_total", "posthorn_connections_open", "posthorn_connections_total")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
}

// mailRejecter refuses MAIL from spam@ as a blocklist would.
type mailRejecter struct{ *fakeBackend }

func (b mailRejecter) NewSession(ci ConnInfo) Session {
	return mailRejectSession{b.fakeBackend.NewSession(ci)}
}

type mailRejectSession struct{ Session }

func (s mailRejectSession) Mail(ctx context.Context, from string, opts MailOptions) error {
	if strings.HasPrefix(from, "spam@") {
		return smtp.NewReply(554, smtp.EnhancedCode{5, 7, 1}, "Listed")
	}
	return s.Session.Mail(ctx, from, opts)
}
