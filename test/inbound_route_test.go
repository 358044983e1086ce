package test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// hookRequest is one POST the test's receiver got.
type hookRequest struct {
	header http.Header
	body   []byte
}

// TestInboundRouteDelivers: a route added with the CLI beside a running dev
// server; Python's smtplib sends a message with an attachment to a routed
// address that has no account; the application's HTTP receiver on loopback
// gets it as JSON, with a signature it checks itself (HMAC-SHA256 over
// timestamp "." body, computed here, not with package webhook), and the
// attachment bytes are those sent.
func TestInboundRouteDelivers(t *testing.T) {
	py := tools.Look(t, "python3")
	got := make(chan hookRequest, 8)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- hookRequest{header: r.Header.Clone(), body: b}
		w.WriteHeader(http.StatusNoContent)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	url := "http://" + ln.Addr().String() + "/inbound"

	dir := filepath.Join(t.TempDir(), "dev")
	s := startDev(t, dir, loopbackIP(t))
	out, err := run(t, nil, "route", "add", "-config", s.info.ConfigFile, "app+*@example.test", url)
	if err != nil {
		t.Fatalf("route add: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`secret: (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("route add printed no secret:\n%s", out)
	}
	secret := m[1]
	// A running server sees routes added beside it within the router's
	// refresh interval (compose.DefaultRefresh, 2 s): wait that long, as
	// the README promises no more.
	time.Sleep(2 * time.Second)

	attachment := make([]byte, 300<<10)
	rand.Read(attachment)
	attFile := filepath.Join(t.TempDir(), "att.pdf")
	if err := os.WriteFile(attFile, attachment, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "testdata/send_attachment.py", s.info.Host, strconv.Itoa(s.info.Ports["smtp"]),
		"zoe@remote.test", "app+ticket-42@example.test", attFile)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("send_attachment.py: %v\n%s\nserver:\n%s", err, out, s.out)
	}

	var req hookRequest
	select {
	case req = <-got:
	case <-time.After(60 * time.Second):
		t.Fatalf("no POST within 60 s\nserver output:\n%s", s.out)
	}

	// The signature, checked the way an application would.
	ts := req.header.Get("Posthorn-Timestamp")
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(req.body)
	want := "v1=" + hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(req.header.Get("Posthorn-Signature")), []byte(want)) {
		t.Errorf("signature %q, want %q", req.header.Get("Posthorn-Signature"), want)
	}
	if sec, err := strconv.ParseInt(ts, 10, 64); err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		t.Errorf("timestamp %q", ts)
	}
	tampered := bytes.Replace(req.body, []byte("ticket-42"), []byte("ticket-43"), 1)
	mac.Reset()
	mac.Write([]byte(ts + "."))
	mac.Write(tampered)
	if hmac.Equal([]byte("v1="+hex.EncodeToString(mac.Sum(nil))), []byte(req.header.Get("Posthorn-Signature"))) {
		t.Error("the signature does not cover the body")
	}

	var ev struct {
		ID        string
		Type      string
		Domain    string
		Recipient string
		Data      struct {
			Route    string
			Envelope struct {
				MailFrom string `json:"mail_from"`
				RcptTo   string `json:"rcpt_to"`
			}
			Message struct {
				Subject     string
				From        []struct{ Name, Email string }
				Text, HTML  string
				MessageID   string `json:"message_id"`
				Attachments []struct {
					Filename    string
					ContentType string `json:"content_type"`
					Size        int
					Content     string
				}
			}
		}
	}
	if err := json.Unmarshal(req.body, &ev); err != nil {
		t.Fatalf("body is not JSON: %v\n%.500s", err, req.body)
	}
	if !strings.HasPrefix(ev.ID, "ev_") || req.header.Get("Posthorn-Event-Id") != ev.ID || ev.Type != "inbound" ||
		ev.Domain != "example.test" || ev.Recipient != "app+ticket-42@example.test" {
		t.Errorf("event id %q (header %q) type %q domain %q recipient %q", ev.ID, req.header.Get("Posthorn-Event-Id"), ev.Type, ev.Domain, ev.Recipient)
	}
	d := ev.Data
	if d.Route != "app+*@example.test" || d.Envelope.MailFrom != "zoe@remote.test" || d.Envelope.RcptTo != "app+ticket-42@example.test" {
		t.Errorf("route %q envelope %+v", d.Route, d.Envelope)
	}
	msg := d.Message
	if msg.Subject != "Rechnung für März" || len(msg.From) != 1 || msg.From[0].Name != "Zoë Sender" || msg.MessageID != "route-e2e@remote.test" {
		t.Errorf("subject %q from %+v message-id %q", msg.Subject, msg.From, msg.MessageID)
	}
	if !strings.Contains(msg.Text, "anbei die Rechnung") || !strings.Contains(msg.HTML, "<b>Rechnung</b>") {
		t.Errorf("text %q html %q", msg.Text, msg.HTML)
	}
	if len(msg.Attachments) != 1 {
		t.Fatalf("%d attachments", len(msg.Attachments))
	}
	a := msg.Attachments[0]
	data, err := base64.StdEncoding.DecodeString(a.Content)
	if err != nil || !bytes.Equal(data, attachment) || a.Size != len(attachment) || a.Filename != "Rechnung März.pdf" || a.ContentType != "application/pdf" {
		t.Errorf("attachment %q %q size %d: bytes equal %v (%v)", a.Filename, a.ContentType, a.Size, bytes.Equal(data, attachment), err)
	}

	// The routed address has no account: nothing was stored for it.
	if out, _ := run(t, nil, "message", "list", "-config", s.info.ConfigFile, "alice@example.test"); strings.Contains(out, "Rechnung") {
		t.Errorf("the routed message landed in a mailbox:\n%s", out)
	}
	select {
	case extra := <-got:
		t.Errorf("a second POST: %.300s", extra.body)
	case <-time.After(2 * time.Second):
	}
	if err := s.stop(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM: %v", err)
	}
}
