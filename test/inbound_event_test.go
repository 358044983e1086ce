package test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/delivery/deliverytest"
	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// TestInboundEventWebhook: with a webhook endpoint for "inbound" events
// only (added with the CLI), a message that Python's smtplib sends to
// alice over SMTP is POSTed, signed, as an "inbound" event, once after the
// receiver's two 500s; GET /api/v1/events shows its summary: envelope
// sender, recipients, From, Subject, Message-ID and size. The delivered
// event of an API send in the same domain gets no delivery to this
// endpoint (it subscribed to inbound only).
func TestInboundEventWebhook(t *testing.T) {
	py := tools.Look(t, "python3")
	rcv := newHookReceiver(t)
	rcv.down = false
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	addAccount(t, data, "alice@example.test", "alice-passw0rd")
	addAccount(t, data, "bob@example.test", "bob-passw0rd")
	out, err := runAt(t, nil, data, "webhook add", "-events", "inbound", "example.test", rcv.url)
	m := regexp.MustCompile(`secret: (\S+)`).FindStringSubmatch(out)
	hook := regexp.MustCompile(`endpoint (\d+):`).FindStringSubmatch(out)
	if err != nil || m == nil || hook == nil {
		t.Fatalf("webhook add: %v\n%s", err, out)
	}
	hookID := hook[1]
	rcv.mu.Lock()
	rcv.secret = m[1]
	rcv.mu.Unlock()
	ip := loopbackIP(t)
	smtpAddr := fmt.Sprintf("%s:%d", ip, deliverytest.FreePort(t, ip))
	httpAddr := smtpAddr
	for httpAddr == smtpAddr {
		httpAddr = fmt.Sprintf("%s:%d", ip, deliverytest.FreePort(t, ip))
	}
	s := startServe(t, dir, serveConfigAt(t, "mail.example.test", data, "smtp", smtpAddr, "127.0.0.1:9")+
		fmt.Sprintf("[[listeners]]\nrole = \"http\"\naddress = %q\n[webhooks]\nretry_min = \"200ms\"\nretry_max = \"500ms\"\n", httpAddr), smtpAddr)

	att := filepath.Join(t.TempDir(), "a.pdf")
	if err := os.WriteFile(att, []byte("%PDF-1.4 inbound"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "testdata/send_attachment.py", ip, smtpAddr[len(ip)+1:],
		"zoe@remote.test", "alice@example.test", att)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("send_attachment.py: %v\n%s\nserver:\n%s", err, out, s.out)
	}
	waitFor(t, 2*time.Minute, "the inbound event accepted", func() bool {
		_, acc := rcv.counts()
		return acc == 1
	}, s)

	rcv.mu.Lock()
	id := rcv.order[0]
	ev, tries, bad := rcv.accepted[id], rcv.upTries[id], rcv.badSigs
	rcv.mu.Unlock()
	if ev.Type != "inbound" || ev.Domain != "example.test" || ev.Recipient != "alice@example.test" || tries != 3 || bad != 0 {
		t.Errorf("event %+v after %d tries, %d bad signatures; want inbound for alice after 3 (500, 500, 204)", ev, tries, bad)
	}
	// The summary itself, from the events API with a key of the domain.
	out, err = runAt(t, nil, data, "apikey create", "app", "example.test")
	key := regexp.MustCompile(`ph_[0-9a-z]{52}`).FindString(out)
	if err != nil || key == "" {
		t.Fatalf("apikey create: %v\n%s", err, out)
	}
	curl := tools.Look(t, "curl")
	api := "http://" + httpAddr + "/api/v1"
	body, err := exec.Command(curl, "-sS", "--max-time", "60", api+"/events?type=inbound", "-H", "Authorization: Bearer "+key).Output()
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Events []struct {
			ID   string
			Data struct {
				MailFrom   string `json:"mail_from"`
				Recipients []string
				From       string
				Subject    string
				MessageID  string `json:"message_id"`
				Size       int64
			}
		}
	}
	if json.Unmarshal(body, &list) != nil || len(list.Events) != 1 || list.Events[0].ID != id {
		t.Fatalf("inbound events: %s", body)
	}
	d := list.Events[0].Data
	if d.MailFrom != "zoe@remote.test" || len(d.Recipients) != 1 || d.Recipients[0] != "alice@example.test" ||
		d.Subject != "Rechnung für März" || d.From != "Zoë Sender <zoe@remote.test>" || d.MessageID != "<route-e2e@remote.test>" || d.Size < 300 {
		t.Errorf("inbound summary %+v", d)
	}

	// A delivered event of the domain is not for this endpoint: once the
	// send is answered its event and the outbox rows for it are written
	// (one transaction), and the endpoint has only the inbound one.
	sent, err := exec.Command(curl, "-sS", "--max-time", "60", api+"/messages", "-H", "Authorization: Bearer "+key,
		"-H", "Content-Type: application/json", "-d", `{"from": "app@example.test", "to": ["bob@example.test"], "subject": "s", "text": "t"}`).CombinedOutput()
	if err != nil || !regexp.MustCompile(`"status":"delivered"`).Match(sent) {
		t.Fatalf("API send: %v\n%s", err, sent)
	}
	out, err = runAt(t, nil, data, "webhook deliveries", hookID)
	if err != nil || len(regexp.MustCompile(`(?m)^\S+ ev_\S+ `).FindAllString(out, -1)) != 1 || !regexp.MustCompile(`ev_\S+ inbound delivered`).MatchString(out) {
		t.Errorf("deliveries of the inbound-only endpoint: %v\n%s", err, out)
	}
	if err := s.stop(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM: %v", err)
	}
}
