package submission

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// Interop with real clients: swaks, msmtp and Python's smtplib
// authenticate over STARTTLS (587) and implicit TLS (465), verifying our
// certificate, and send to a local user who finds the message in INBOX.
// A missing tool skips its test, except in CI (CI=true), where it fails.

// toolTimeout bounds one run of a client: several logins, each an argon2id
// check that takes seconds under the race detector on a busy machine.
const toolTimeout = 60 * time.Second

func runTool(t *testing.T, stdin, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// wantDelivered checks that the last message in bob's INBOX has the
// subject and was submitted with authentication over TLS.
func (e *env) wantDelivered(t *testing.T, what, subject string) {
	t.Helper()
	got := e.inbox("bob@example.test")
	if len(got) == 0 {
		t.Fatalf("%s: bob's INBOX is empty", what)
	}
	last := got[len(got)-1]
	if !strings.Contains(last, "Subject: "+subject+"\r\n") || !strings.Contains(last, " with ESMTPSA id ") {
		t.Errorf("%s: bob's last message is %q", what, last)
	}
}

func TestInteropSwaks(t *testing.T) {
	t.Parallel()
	swaks := tools.Look(t, "swaks")
	e := newEnv(t, envOpts{})
	for _, tc := range []struct {
		name string
		addr string
		tls  string
		mech string
	}{
		{"587-plain", e.addr587, "--tls", "PLAIN"},
		{"587-login", e.addr587, "--tls", "LOGIN"},
		{"465-plain", e.addr465, "--tls-on-connect", "PLAIN"},
		{"465-login", e.addr465, "--tls-on-connect", "LOGIN"},
	} {
		subject := "swaks " + tc.name
		out := runTool(t, "", swaks, "--server", tc.addr, tc.tls, "--tls-verify", "--tls-ca-path", e.caFile,
			"--helo", "client.test", "--auth", tc.mech, "--auth-user", "alice@example.test", "--auth-password", alicePW,
			"--from", "alice@example.test", "--to", "bob@example.test",
			"--header", "Subject: "+subject, "--timeout", "60")
		if !strings.Contains(out, "235 ") {
			t.Errorf("%s: no 235 in swaks output:\n%s", tc.name, out)
		}
		e.wantDelivered(t, tc.name, subject)
	}
	// A wrong password: swaks fails, nothing is delivered.
	n := len(e.inbox("bob@example.test"))
	cmd := exec.Command(swaks, "--server", e.addr587, "--tls", "--auth", "PLAIN", "--auth-user", "alice@example.test",
		"--auth-password", "wrong", "--from", "alice@example.test", "--to", "bob@example.test", "--timeout", "60")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "535 5.7.8") {
		t.Errorf("swaks with a wrong password: %v\n%s", err, out)
	}
	if len(e.inbox("bob@example.test")) != n {
		t.Error("a message was delivered after a failed AUTH")
	}
}

func TestInteropMsmtp(t *testing.T) {
	t.Parallel()
	msmtp := tools.Look(t, "msmtp")
	e := newEnv(t, envOpts{})
	for _, tc := range []struct {
		name     string
		addr     string
		starttls string
		mech     string
	}{
		{"587-plain", e.addr587, "on", "plain"},
		{"465-login", e.addr465, "off", "login"},
		{"465-plain", e.addr465, "off", "plain"},
	} {
		host, port, _ := strings.Cut(tc.addr, ":")
		conf := filepath.Join(t.TempDir(), "msmtprc")
		rc := fmt.Sprintf("account test\nhost %s\nport %s\ntls on\ntls_starttls %s\ntls_trust_file %s\nauth %s\nuser alice@example.test\npassword %s\nfrom alice@example.test\ndomain client.test\n",
			host, port, tc.starttls, e.caFile, tc.mech, alicePW)
		if err := os.WriteFile(conf, []byte(rc), 0o600); err != nil {
			t.Fatal(err)
		}
		subject := "msmtp " + tc.name
		msg := "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: " + subject + "\r\n\r\nHello from msmtp.\r\n"
		runTool(t, msg, msmtp, "-C", conf, "-a", "test", "bob@example.test")
		e.wantDelivered(t, tc.name, subject)
	}
}

// pySubmit authenticates with smtplib and sends a message.
const pySubmit = `
import smtplib, ssl, sys
host, port, mode, cafile, user, pw, mech, ir, subject = sys.argv[1:10]
ctx = ssl.create_default_context(cafile=cafile)
if mode == 'starttls':
    s = smtplib.SMTP(host, int(port), local_hostname='client.test', timeout=60)
    s.starttls(context=ctx)
    s.ehlo('client.test')
else:
    s = smtplib.SMTP_SSL(host, int(port), local_hostname='client.test', timeout=60, context=ctx)
    s.ehlo('client.test')
assert mech in s.esmtp_features['auth'].split(), s.esmtp_features
s.user, s.password = user, pw
code, resp = s.auth(mech, getattr(s, 'auth_' + mech.lower()), initial_response_ok=(ir == 'ir'))
assert code == 235, (code, resp)
msg = 'From: %s\r\nTo: bob@example.test\r\nSubject: %s\r\n\r\nHello from Python.\r\n' % (user, subject)
s.sendmail(user, ['bob@example.test'], msg)
s.quit()
`

func TestInteropPython(t *testing.T) {
	t.Parallel()
	py := tools.Look(t, "python3")
	e := newEnv(t, envOpts{})
	for _, tc := range []struct {
		addr, mode, mech, ir string
	}{
		{e.addr587, "starttls", "PLAIN", "ir"},
		{e.addr587, "starttls", "LOGIN", "no-ir"},
		{e.addr465, "ssl", "PLAIN", "no-ir"},
		{e.addr465, "ssl", "LOGIN", "ir"},
	} {
		name := tc.mode + "-" + tc.mech + "-" + tc.ir
		host, port, _ := strings.Cut(tc.addr, ":")
		runTool(t, "", py, "-c", pySubmit, host, port, tc.mode, e.caFile, "alice@example.test", alicePW, tc.mech, tc.ir, "python "+name)
		e.wantDelivered(t, name, "python "+name)
	}
}
