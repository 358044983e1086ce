package test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/certs/certstest"
	"github.com/posthorn/posthorn/internal/delivery/deliverytest"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// TestHTTPAPISend: an application sends through the HTTP API of one
// posthorn (curl over HTTPS, a key from `posthorn apikey create`): a JSON
// message with text, HTML, an inline image and a PDF attachment to a
// remote recipient (a second posthorn, found by MX in the test's DNS,
// through the queue) and a local one. Both copies are read back by
// Python's email package, which finds every part with the bytes sent;
// the remote one carries valid DKIM signatures (the receiver's checks
// say dkim=pass and dmarc=pass). The status endpoint reports both
// delivered, with the remote server's reply; a retry with the same
// Idempotency-Key answers the same id and nothing arrives twice; a
// revoked key gets 401 at once.
func TestHTTPAPISend(t *testing.T) {
	curl := tools.Look(t, "curl")
	py := tools.Look(t, "python3")
	n := newOutboundNet(t)
	root := t.TempDir()
	dirA, dirB := filepath.Join(root, "a"), filepath.Join(root, "b")
	dataA, dataB := filepath.Join(dirA, "data"), filepath.Join(dirB, "data")
	addAccount(t, dataA, "alice@a.test", "alice-passw0rd")
	out, err := runAt(t, nil, dataA, "dkim keygen", "a.test")
	if err != nil {
		t.Fatalf("dkim keygen: %v\n%s", err, out)
	}
	keyRecords := regexp.MustCompile(`(?m)^\S+\._domainkey\.a\.test\. 3600 IN TXT .*$`).FindAllString(out, -1)
	zones := dnstest.Start(t,
		dnstest.Zone{Origin: "a.test", Records: strings.Join(keyRecords, "\n") + "\n_dmarc TXT \"v=DMARC1; p=reject\"\nmail A " + n.a + "\n"},
		dnstest.Zone{Origin: "b.test", Records: "@ MX 10 mx\nmx A " + n.b},
	)
	token, err := runAt(t, nil, dataA, "apikey create", "shop", "a.test")
	if err != nil {
		t.Fatalf("apikey create: %v\n%s", err, token)
	}
	token = regexp.MustCompile(`ph_[0-9a-z]{52}`).FindString(token)

	addAccount(t, dataB, "bob@b.test", "bob-passw0rd")
	srvB := startServe(t, dirB, serveConfigAt(t, "mx.b.test", dataB, "smtp", fmt.Sprintf("%s:%d", n.b, n.port), zones.Addr())+
		"[checks]\ntrusted_networks = []\n[delivery]\nenabled = false\n", fmt.Sprintf("%s:%d", n.b, n.port))

	tlsA := certstest.Dev(t, filepath.Join(dirA, "tls"), []string{"mail.a.test"}, net.ParseIP(n.a))
	httpAddr := fmt.Sprintf("%s:%d", n.a, deliverytest.FreePort(t, n.a))
	cfgA := serveConfigAt(t, "mail.a.test", dataA, "http", httpAddr, zones.Addr()) +
		fmt.Sprintf("[tls]\ncert_file = %q\nkey_file = %q\n[delivery]\nport = %d\nsource_address = %q\nretry_min = \"1s\"\nretry_max = \"2s\"\n",
			tlsA.CertFile, tlsA.KeyFile, n.port, n.a)
	srvA := startServe(t, dirA, cfgA, httpAddr)
	base := "https://" + httpAddr

	// curl does the requests, as the README shows.
	api := func(key, method, path, body string, headers ...string) (int, []byte) {
		t.Helper()
		args := []string{"-sS", "--cacert", tlsA.CAFile, "-X", method, "-w", "\n%{http_code}", "--max-time", "60"}
		if key != "" {
			args = append(args, "-H", "Authorization: Bearer "+key)
		}
		for _, h := range headers {
			args = append(args, "-H", h)
		}
		if body != "" {
			args = append(args, "-H", "Content-Type: application/json", "--data-binary", "@-")
		}
		cmd := exec.Command(curl, append(args, base+path)...)
		cmd.Stdin = strings.NewReader(body)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("curl %s %s: %v\n%s", method, path, err, out)
		}
		i := strings.LastIndexByte(string(out), '\n')
		var code int
		fmt.Sscan(string(out[i+1:]), &code)
		return code, out[:i]
	}

	pdf := []byte("%PDF-1.4\n" + strings.Repeat("binary \x00\x01\xff ", 300))
	png := []byte("\x89PNG\r\n\x1a\n" + strings.Repeat("\x00pixel", 100))
	subject := fmt.Sprintf("Your receipt %x — merci", rand.Uint64())
	req, _ := json.Marshal(map[string]any{
		"from":    map[string]string{"name": "Shop", "email": "shop@a.test"},
		"to":      []string{"Bob <bob@b.test>"},
		"cc":      []string{"alice@a.test"},
		"subject": subject,
		"text":    "Thank you for your order.\nTotal: 42 €\n",
		"html":    `<p>Thank you! <img src="cid:logo"></p>`,
		"attachments": []map[string]string{
			{"filename": "receipt.pdf", "content_type": "application/pdf", "content": base64.StdEncoding.EncodeToString(pdf)},
			{"content_id": "logo", "content_type": "image/png", "content": base64.StdEncoding.EncodeToString(png)},
		},
		"tags": []string{"receipt"},
	})
	code, body := api(token, "POST", "/api/v1/messages", string(req), "Idempotency-Key: order-1")
	var sent struct {
		ID         string `json:"id"`
		Recipients []struct{ Email, Status string }
	}
	if code != 202 || json.Unmarshal(body, &sent) != nil || !strings.HasPrefix(sent.ID, "m_") || len(sent.Recipients) != 2 {
		t.Fatalf("send: %d %s\n%s", code, body, srvA.out)
	}
	if code, again := api(token, "POST", "/api/v1/messages", string(req), "Idempotency-Key: order-1"); code != 202 || string(again) != string(body) {
		t.Errorf("retry with the same Idempotency-Key: %d %s, want the first answer %s", code, again, body)
	}

	// The status reports both delivered, bob's with B's reply.
	var status struct {
		Recipients []struct{ Email, Status, Reply string }
	}
	waitFor(t, 60*time.Second, "both recipients delivered", func() bool {
		code, b := api(token, "GET", "/api/v1/messages/"+sent.ID, "")
		if code != 200 || json.Unmarshal(b, &status) != nil {
			return false
		}
		n := 0
		for _, r := range status.Recipients {
			if r.Status == "delivered" {
				n++
			}
		}
		return n == 2
	}, srvA, srvB)
	for _, r := range status.Recipients {
		if r.Email == "bob@b.test" && !strings.HasPrefix(r.Reply, "250 ") {
			t.Errorf("bob's delivery reply %q", r.Reply)
		}
	}
	code, evs := api(token, "GET", "/api/v1/events?message="+sent.ID+"&type=delivered", "")
	if code != 200 || strings.Count(string(evs), `"type":"delivered"`) != 2 || !strings.Contains(string(evs), `"receipt"`) {
		t.Errorf("delivered events: %d %s", code, evs)
	}

	// Revocation is immediate.
	if out, err := runAt(t, nil, dataA, "apikey revoke", "shop"); err != nil {
		t.Fatalf("apikey revoke: %v\n%s", err, out)
	}
	if code, b := api(token, "GET", "/api/v1/messages/"+sent.ID, ""); code != 401 || !strings.Contains(string(b), `"code":"unauthorized"`) {
		t.Errorf("revoked key: %d %s", code, b)
	}
	for _, s := range []*devServer{srvA, srvB} {
		if err := s.stop(syscall.SIGTERM); err != nil {
			t.Errorf("server did not stop cleanly: %v", err)
		}
	}

	// Both copies, parsed by Python's email package.
	read := func(data, addr string) []string {
		st := openDataStore(t, data)
		defer st.Close()
		return inboxBodies(t, st, addr)
	}
	remote, local := read(dataB, "bob@b.test"), read(dataA, "alice@a.test")
	if len(remote) != 1 || len(local) != 1 {
		t.Fatalf("bob has %d messages, alice %d: want one each (the retry sent nothing)", len(remote), len(local))
	}
	sum := func(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }
	for who, msg := range map[string]string{"bob": remote[0], "alice": local[0]} {
		cmd := exec.Command(py, "testdata/mime_parts.py")
		cmd.Stdin = strings.NewReader(msg)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("mime_parts.py: %v\n%s", err, out)
		}
		var m struct {
			Defects           []string
			Subject, From, To string
			ContentType       string `json:"content_type"`
			Parts             []struct {
				ContentType string `json:"content_type"`
				Filename    *string
				ContentID   *string `json:"content_id"`
				SHA256      string
				Text        string
			}
		}
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("%s: %v\n%s", who, err, out)
		}
		if len(m.Defects) > 0 || m.Subject != subject || m.From != "Shop <shop@a.test>" || m.ContentType != "multipart/mixed" || len(m.Parts) != 4 {
			t.Errorf("%s's copy as Python reads it: %s", who, out)
			continue
		}
		p := m.Parts
		if p[0].ContentType != "text/plain" || p[0].Text != "Thank you for your order.\nTotal: 42 €\n" ||
			p[1].ContentType != "text/html" || !strings.Contains(p[1].Text, `cid:logo`) ||
			p[2].ContentType != "image/png" || p[2].ContentID == nil || *p[2].ContentID != "<logo>" || p[2].SHA256 != sum(png) ||
			p[3].ContentType != "application/pdf" || p[3].Filename == nil || *p[3].Filename != "receipt.pdf" || p[3].SHA256 != sum(pdf) {
			t.Errorf("%s's parts: %s", who, out)
		}
	}
	header := remote[0][:strings.Index(remote[0], "\r\n\r\n")]
	ar := regexp.MustCompile(`(?s)Authentication-Results: mx\.b\.test;.*?\r\n[^ \t]`).FindString(header)
	if strings.Count(ar, "dkim=pass header.d=a.test") != 2 || !strings.Contains(ar, "dmarc=pass header.from=a.test") {
		t.Errorf("the API's message is not DKIM-signed as submission signs:\n%s", header)
	}
	if !strings.Contains(header, "with HTTPS id "+sent.ID) {
		t.Errorf("no Received field for the API:\n%s", header)
	}
}
