package test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/delivery/deliverytest"
	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// readmeReceiver is an application's webhook endpoint in Python built
// around the README's verify function (imported from readme_verify.py,
// which the test writes from the README). For the one POST it gets it
// prints a JSON line: what verify says of the request as it came, of the
// body with one byte changed, and of the same body correctly signed with
// the secret but ten minutes old (a replay); it answers 204 only when the
// request verifies. It also keeps the timestamp and raw body for the
// README's openssl command.
const readmeReceiver = `
import hashlib, hmac, json, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer
from readme_verify import verify

class H(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ok = verify(secret, self.headers, body)
        tampered = verify(secret, self.headers, body.replace(b"}", b" }", 1))
        old = str(int(time.time()) - 600)
        sig = "v1=" + hmac.new(secret.encode(), old.encode() + b"." + body, hashlib.sha256).hexdigest()
        replay = verify(secret, {"Posthorn-Timestamp": old, "Posthorn-Signature": sig}, body)
        print(json.dumps({"ok": ok, "tampered": tampered, "replay": replay,
                          "timestamp": self.headers["Posthorn-Timestamp"],
                          "signature": self.headers["Posthorn-Signature"], "body": body.decode()}), flush=True)
        self.send_response(204 if ok else 401)
        self.end_headers()
    def log_message(self, *a): pass

srv = HTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
secret = input().strip()
srv.serve_forever()
`

// TestREADMEWebhookVerifier runs the README's Python verify function, as
// an application copies it, against a real signed POST: posthorn serve
// with an endpoint added by `posthorn webhook add` and an API send to a
// local account. The function must accept the POST, refuse the body
// changed by one byte and a correctly signed request ten minutes old; the
// README's openssl command must give the hex of the signature.
func TestREADMEWebhookVerifier(t *testing.T) {
	py := tools.Look(t, "python3")
	openssl := tools.Look(t, "openssl")
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	code := regexp.MustCompile("(?s)```python\n(.*?def verify\\(.*?)```").FindSubmatch(readme)
	if code == nil {
		t.Fatal("README has no python block with def verify(")
	}
	cmdLine := regexp.MustCompile("`(printf '%s\\.%s' \"\\$TS\" \"\\$BODY\" \\| openssl [^`]+)`").FindSubmatch(readme)
	if cmdLine == nil {
		t.Fatal("README has no openssl command for the signature")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "readme_verify.py"), code[1], 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	addAccount(t, data, "alice@a.test", "alice-passw0rd")

	// The receiver, started first: its port goes into the endpoint's URL;
	// it reads the secret from its input once webhook add printed it.
	rcv := exec.Command(py, "-c", readmeReceiver)
	rcv.Dir = dir
	stdin, _ := rcv.StdinPipe()
	stdout, _ := rcv.StdoutPipe()
	rcv.Stderr = os.Stderr
	if err := rcv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rcv.Process.Kill(); rcv.Wait() })
	lines := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var port string
	select {
	case port = <-lines:
	case <-time.After(60 * time.Second):
		t.Fatal("the Python receiver did not start")
	}

	out, err := runAt(t, nil, data, "webhook add", "-events", "delivered", "a.test", "http://127.0.0.1:"+port+"/hooks/mail")
	secret := regexp.MustCompile(`secret: (\S+)`).FindStringSubmatch(out)
	if err != nil || secret == nil {
		t.Fatalf("webhook add: %v\n%s", err, out)
	}
	fmt.Fprintln(stdin, secret[1])
	out, err = runAt(t, nil, data, "apikey create", "app", "a.test")
	key := regexp.MustCompile(`ph_[0-9a-z]{52}`).FindString(out)
	if err != nil || key == "" {
		t.Fatalf("apikey create: %v\n%s", err, out)
	}

	ip := loopbackIP(t)
	addr := fmt.Sprintf("%s:%d", ip, deliverytest.FreePort(t, ip))
	srv := startServe(t, dir, serveConfigAt(t, "mail.a.test", data, "http", addr, "127.0.0.1:9"), addr)
	req, _ := http.NewRequest("POST", "http://"+addr+"/api/v1/messages",
		strings.NewReader(`{"from": "app@a.test", "to": ["alice@a.test"], "subject": "signed", "text": "hello"}`))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("send: %d", resp.StatusCode)
	}

	var got struct {
		OK, Tampered, Replay       bool
		Timestamp, Signature, Body string
	}
	select {
	case l, ok := <-lines:
		if !ok || json.Unmarshal([]byte(l), &got) != nil {
			t.Fatalf("receiver output %q", l)
		}
	case <-time.After(90 * time.Second):
		t.Fatalf("no webhook POST within 90 s\n%s", srv.out)
	}
	if !got.OK || got.Tampered || got.Replay {
		t.Errorf("README verify: genuine %v (want true), tampered %v, replay %v (want false)", got.OK, got.Tampered, got.Replay)
	}
	if !strings.Contains(got.Body, `"type":"delivered"`) || !strings.Contains(got.Body, `"recipient":"alice@a.test"`) {
		t.Errorf("webhook body %s", got.Body)
	}

	// The README's openssl command gives the hex of the signature.
	sh := exec.Command("sh", "-c", string(cmdLine[1]))
	sh.Env = append(os.Environ(), "PATH="+filepath.Dir(openssl)+":"+os.Getenv("PATH"))
	sh.Env = append(sh.Env, "TS="+got.Timestamp, "BODY="+got.Body, "SECRET="+secret[1])
	hexOut, err := sh.Output()
	if err != nil {
		t.Fatalf("%s: %v", cmdLine[1], err)
	}
	if f := strings.Fields(string(hexOut)); len(f) == 0 || "v1="+f[len(f)-1] != got.Signature {
		t.Errorf("openssl printed %q, the signature is %s", hexOut, got.Signature)
	}
	if err := srv.stop(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM: %v", err)
	}
}
