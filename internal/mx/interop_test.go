package mx

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// Interop with real clients: Python's smtplib and swaks. When a tool is
// missing the test is skipped, except in CI (CI=true), where it fails.

func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// toolTimeout bounds one run of an external client. It is generous: on a
// loaded machine the pyenv python3 shim alone has been seen to take 11 s to
// start.
const toolTimeout = 60 * time.Second

// pySend sends with smtplib and prints the reply to the end of data.
const pySend = `
import smtplib, ssl, sys
host, port, mode, cafile, sender, rcpt, path = sys.argv[1:8]
body = open(path, 'rb').read()
s = smtplib.SMTP(host, int(port), local_hostname='client.test', timeout=10)
if mode == 'starttls':
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False  # the certificate names mx.example.test
    s.starttls(context=ctx)
s.ehlo('client.test')
opts = []
if mode == '8bit':
    opts.append('BODY=8BITMIME')
if mode == 'utf8':
    opts.append('SMTPUTF8')
code, resp = s.mail(sender, opts)
assert code == 250, (code, resp)
code, resp = s.rcpt(rcpt)
assert code == 250, (code, resp)
code, resp = s.data(body)
assert code == 250, (code, resp)
print(resp.decode())
s.quit()
`

func TestInteropPython(t *testing.T) {
	t.Parallel()
	py := tools.Look(t, "python3")
	e := newEnv(t, envOpts{})
	host, port, _ := strings.Cut(e.addr, ":")
	for _, tc := range []struct {
		mode, rcpt, acct, with, tls string
		body                        string
	}{
		{"plain", "alice@example.test", "alice@example.test", "ESMTP", "", "Subject: plain\r\n\r\nHello.\r\n.dot\r\n"},
		{"starttls", "bob@example.test", "bob@example.test", "ESMTPS", "TLSv1.3 with cipher CIPHER", "Subject: tls\r\n\r\nSecret.\r\n"},
		{"8bit", "team@example.test", "", "ESMTP", "", "Subject: 8bit\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße \xe9\r\n"},
		{"utf8", "jöran@example.test", "jöran@example.test", "UTF8SMTP", "", "Subject: utf8\r\nTo: jöran@example.test\r\n\r\nHej!\r\n"},
	} {
		path := filepath.Join(t.TempDir(), "msg")
		if err := os.WriteFile(path, []byte(tc.body), 0o600); err != nil {
			t.Fatal(err)
		}
		out := runTool(t, py, "-c", pySend, host, port, tc.mode, e.caFile, "sender@remote.test", tc.rcpt, path)
		id := queuedID(t, strings.TrimSpace(out))
		rcptFor := tc.rcpt
		if tc.acct == "" { // an alias: team -> alice, bob
			want := trace("sender@remote.test", "client.test", tc.with, id, rcptFor, tc.tls) + tc.body
			for _, a := range []string{"alice@example.test", "bob@example.test"} {
				got := e.inbox(a)
				if len(got) == 0 || got[len(got)-1] != want {
					t.Errorf("%s: %s has %q, want last %q", tc.mode, a, got, want)
				}
			}
			continue
		}
		want := trace("sender@remote.test", "client.test", tc.with, id, rcptFor, tc.tls) + tc.body
		got := e.inbox(tc.acct)
		if len(got) == 0 || anyCipher(got[len(got)-1]) != want {
			t.Errorf("%s: %s has %q, want last %q", tc.mode, tc.acct, got, want)
		}
	}
}

func TestInteropSwaks(t *testing.T) {
	t.Parallel()
	swaks := tools.Look(t, "swaks")
	e := newEnv(t, envOpts{})
	for _, tc := range []struct {
		name  string
		flags []string
		acct  string
		with  string
		tls   string
	}{
		{"plain", nil, "alice@example.test", "ESMTP", ""},
		{"tls", []string{"--tls"}, "bob@example.test", "ESMTPS", "TLSv1.3 with cipher CIPHER"},
		{"pipeline", []string{"--pipeline"}, "jöran@example.test", "ESMTP", ""},
	} {
		// swaks ends the data with CRLF "." CRLF itself.
		body := "Subject: swaks " + tc.name + "\r\n\r\nHello from swaks.\r\n.."
		path := filepath.Join(t.TempDir(), "msg")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		rcpt := tc.acct
		if tc.name == "pipeline" {
			rcpt = "alice+tag@example.test" // subaddress, still alice
			tc.acct = "alice@example.test"
		}
		args := append([]string{"--server", e.addr, "--helo", "client.test", "--from", "sender@remote.test",
			"--to", rcpt, "--data", "@" + path, "--timeout", "10"}, tc.flags...)
		out := runTool(t, swaks, args...)
		i := strings.Index(out, "queued as ")
		if i < 0 {
			t.Fatalf("%s: no queue id in swaks output:\n%s", tc.name, out)
		}
		id, _, _ := strings.Cut(out[i+len("queued as "):], "\n")
		id = strings.TrimSpace(id)
		if tc.name == "pipeline" && !strings.Contains(out, "PIPELINING") {
			t.Errorf("swaks did not see PIPELINING:\n%s", out)
		}
		want := trace("sender@remote.test", "client.test", tc.with, id, rcpt, tc.tls) + body + "\r\n"
		got := e.inbox(tc.acct)
		if len(got) == 0 || anyCipher(got[len(got)-1]) != want {
			t.Errorf("%s: %s has %q, want last %q\nswaks:\n%s", tc.name, tc.acct, got, want, out)
		}
	}
}

// anyCipher replaces the TLS 1.3 cipher suite name (it depends on the
// CPU's AES support) with CIPHER.
func anyCipher(s string) string {
	return strings.NewReplacer("TLS_AES_128_GCM_SHA256", "CIPHER", "TLS_AES_256_GCM_SHA384", "CIPHER",
		"TLS_CHACHA20_POLY1305_SHA256", "CIPHER").Replace(s)
}
