package test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/delivery/deliverytest"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// sendmailEnv is a running posthorn for a.test with the local submission
// socket, DKIM keys, alice and bob, and Postfix's smtp-sink as the MX of
// sink.test behind the outbound queue.
type sendmailEnv struct {
	dir, data, cfg, sock string
	srv                  *devServer
	sinkDir              string
}

func newSendmailEnv(t *testing.T) *sendmailEnv {
	t.Helper()
	smtpSink := tools.Look(t, "smtp-sink")
	n := newOutboundNet(t)
	zones := dnstest.Start(t, dnstest.Zone{Origin: "sink.test", Records: "@ MX 10 mx\nmx A " + n.sink})
	// A short directory: Unix socket paths are limited to 107 bytes.
	dir, err := os.MkdirTemp("", "ph-sm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	e := &sendmailEnv{dir: dir, data: filepath.Join(dir, "data"), sock: filepath.Join(dir, "run", "sendmail.sock")}
	addAccount(t, e.data, "alice@a.test", "alice-passw0rd")
	addAccount(t, e.data, "bob@a.test", "bob-passw0rd")
	if out, err := runAt(t, nil, e.data, "dkim keygen", "a.test"); err != nil {
		t.Fatalf("dkim keygen: %v\n%s", err, out)
	}
	e.sinkDir = startSmtpSink(t, smtpSink, fmt.Sprintf("%s:%d", n.sink, n.port))
	smtpAddr := fmt.Sprintf("%s:%d", n.a, deliverytest.FreePort(t, n.a))
	cfg := serveConfigAt(t, "mail.a.test", e.data, "smtp", smtpAddr, zones.Addr()) +
		fmt.Sprintf("[sendmail]\nsocket = %q\n[delivery]\nport = %d\nretry_min = \"1s\"\nretry_max = \"2s\"\n", e.sock, n.port)
	e.srv = startServe(t, dir, cfg, smtpAddr)
	e.cfg = filepath.Join(dir, "posthorn.toml")
	return e
}

// sh runs script with sh -c, the posthorn binary as $POSTHORN, and
// returns its output and exit status.
func (e *sendmailEnv) sh(t *testing.T, script string) (string, int) {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), "POSTHORN="+binary, "CFG="+e.cfg)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	t.Fatalf("sh: %v", err)
	return "", 0
}

// message returns the message with uid in account's INBOX, waiting
// (bounded) for it to arrive.
func (e *sendmailEnv) message(t *testing.T, account string, uid int) string {
	t.Helper()
	var body string
	waitFor(t, 30*time.Second, fmt.Sprintf("message %d of %s", uid, account), func() bool {
		out, err := runAt(t, nil, e.data, "message show", account, strconv.Itoa(uid))
		body = out
		return err == nil
	}, e.srv)
	return body
}

func (e *sendmailEnv) count(t *testing.T, account string) string {
	t.Helper()
	out, err := runAt(t, nil, e.data, "message count", account)
	if err != nil {
		t.Fatalf("message count: %v\n%s", err, out)
	}
	return strings.TrimSpace(out)
}

// TestSendmail: `posthorn sendmail` from a shell pipe, the way cron and
// scripts call it, against a running server's local socket.
func TestSendmail(t *testing.T) {
	e := newSendmailEnv(t)
	me := "uid " + strconv.Itoa(os.Getuid())
	if u, err := user.Current(); err == nil {
		me += " " + u.Username
	}

	// -t -i: recipients from To:, Cc: and Bcc: (one remote, through the
	// queue to smtp-sink), Bcc: removed, LF made CRLF, a lone dot kept.
	out, code := e.sh(t, `printf 'From: Shop <noreply@a.test>\nTo: alice@a.test\nCc: x@sink.test\nBcc: bob@a.test\nSubject: order 1\n\nline one\n.\n.leading dot\nlast line' | "$POSTHORN" sendmail -C "$CFG" -t -i`)
	if code != 0 {
		t.Fatalf("sendmail -t -i: exit %d\n%s", code, out)
	}
	alice := e.message(t, "alice@a.test", 1)
	wantBody := "\r\n\r\nline one\r\n.\r\n.leading dot\r\nlast line\r\n"
	for _, want := range []string{
		"Return-Path: <" + loginOf(me) + "@mail.a.test>\r\n",
		"Received: from local (" + me + ")\r\n\tby mail.a.test with ESMTP id ",
		"DKIM-Signature: a=rsa-sha256; ",
		"DKIM-Signature: a=ed25519-sha256; ",
		"\r\nFrom: Shop <noreply@a.test>\r\nTo: alice@a.test\r\nCc: x@sink.test\r\nSubject: order 1" + wantBody,
		"\r\nMessage-ID: <", "\r\nDate: ",
	} {
		if !strings.Contains(alice, want) {
			t.Errorf("alice's copy lacks %q:\n%s", want, alice)
		}
	}
	// A Bcc field at the start of a line, not the letters anywhere: a
	// DKIM signature's base64 holds "bCc" now and then.
	if strings.Contains(strings.ToLower(alice), "\nbcc:") || strings.Count(alice, "\n") != strings.Count(alice, "\r\n") {
		t.Errorf("alice's copy has Bcc or a bare LF:\n%q", alice)
	}
	bob := e.message(t, "bob@a.test", 1)
	if !strings.Contains(bob, "Subject: order 1\r\n") || strings.Contains(strings.ToLower(bob), "bcc:") {
		t.Errorf("bob's blind copy:\n%s", bob)
	}
	var sunk string
	waitFor(t, 60*time.Second, "smtp-sink", func() bool {
		files, _ := filepath.Glob(filepath.Join(e.sinkDir, "*"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if strings.Contains(string(b), "Subject: order 1") {
				sunk = string(b)
				return true
			}
		}
		return false
	}, e.srv)
	// smtp-sink writes its files with LF line ends.
	if !strings.Contains(sunk, "DKIM-Signature:") || !strings.Contains(sunk, strings.ReplaceAll(wantBody, "\r\n", "\n")) || strings.Contains(strings.ToLower(sunk), "bcc:") {
		t.Errorf("smtp-sink got:\n%s", sunk)
	}

	// Without -i a lone dot ends the message; -f, -F and two argument
	// recipients (one bare, one in a list); no From: in the input.
	out, code = e.sh(t, `printf 'Subject: dots\n\nbefore\n.\nafter\n' | "$POSTHORN" sendmail -C "$CFG" -f noreply@a.test -F 'Web Shop' alice@a.test,bob@a.test`)
	if code != 0 {
		t.Fatalf("sendmail -f -F: exit %d\n%s", code, out)
	}
	alice = e.message(t, "alice@a.test", 2)
	for _, want := range []string{"Return-Path: <noreply@a.test>\r\n", "\r\nFrom: \"Web Shop\" <noreply@a.test>\r\nSubject: dots\r\n\r\nbefore\r\n"} {
		if !strings.Contains(alice, want) {
			t.Errorf("lacks %q:\n%s", want, alice)
		}
	}
	if strings.Contains(alice, "after") {
		t.Errorf("text after the lone dot was sent:\n%s", alice)
	}
	if b := e.message(t, "bob@a.test", 2); !strings.Contains(b, "Subject: dots") {
		t.Errorf("bob's second message:\n%s", b)
	}

	// Called as "sendmail" through a symlink, the socket from the
	// environment, plain text without a header, cron's usual options.
	link := filepath.Join(e.dir, "sendmail")
	if err := os.Symlink(binary, link); err != nil {
		t.Fatal(err)
	}
	out, code = e.sh(t, `echo 'cron output' | POSTHORN_SENDMAIL_SOCKET=`+e.sock+` `+link+` -FCronDaemon -i -B8BITMIME -oem -odi -v alice@a.test`)
	if code != 0 {
		t.Fatalf("sendmail via symlink: exit %d\n%s", code, out)
	}
	alice = e.message(t, "alice@a.test", 3)
	if !strings.Contains(alice, "\r\nFrom: \"CronDaemon\" <"+loginOf(me)+"@mail.a.test>\r\n") || !strings.HasSuffix(alice, "\r\n\r\ncron output\r\n") {
		t.Errorf("cron message:\n%q", alice)
	}

	// Refusals, each with nothing sent: a foreign From: (77), an unknown
	// local user beside a good one (67), no recipients and an unknown
	// option (64).
	for _, c := range []struct {
		script string
		code   int
		why    string
	}{
		{`printf 'From: ceo@bank.test\nSubject: x\n\nx\n' | "$POSTHORN" sendmail -C "$CFG" alice@a.test`, 77, "5.7.1"},
		{`printf 'Subject: x\n\nx\n' | "$POSTHORN" sendmail -C "$CFG" -f ceo@bank.test alice@a.test`, 77, "5.7.1"},
		{`printf 'Subject: x\n\nx\n' | "$POSTHORN" sendmail -C "$CFG" alice@a.test nobody@a.test`, 67, "5.1.1"},
		// cron's MAILTO=root: root@mail.a.test, and the host name is not
		// a domain of ours (the queue could only bounce it).
		{`printf 'Subject: x\n\nx\n' | "$POSTHORN" sendmail -C "$CFG" root`, 67, "recipient <root@mail.a.test> refused: 550 5.1.1"},
		{`printf 'Subject: x\n\nx\n' | "$POSTHORN" sendmail -C "$CFG" -t`, 64, "no recipients"},
		{`printf 'Subject: x\n\nx\n' | "$POSTHORN" sendmail -C "$CFG" -Z alice@a.test`, 64, "unknown option -Z"},
	} {
		out, code := e.sh(t, c.script)
		if code != c.code || !strings.Contains(out, c.why) {
			t.Errorf("%s\n: exit %d, want %d with %q; output %q", c.script, code, c.code, c.why, out)
		}
	}
	if n := e.count(t, "alice@a.test"); n != "3" {
		t.Errorf("alice has %s messages after the refusals, want 3", n)
	}

	// -bs: SMTP on standard input and output, through the socket.
	out, code = e.sh(t, `printf 'EHLO client\r\nMAIL FROM:<ceo@bank.test>\r\nQUIT\r\n' | "$POSTHORN" sendmail -C "$CFG" -bs`)
	if code != 0 || !strings.HasPrefix(out, "220 mail.a.test ") || !strings.Contains(out, "\r\n550 5.7.1 ") || !strings.Contains(out, "\r\n221 ") {
		t.Errorf("-bs: exit %d, output %q", code, out)
	}

	// The daemon down: 75, and the message is the caller's to keep.
	if err := e.srv.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("server exit: %v\n%s", err, e.srv.out)
	}
	out, code = e.sh(t, `printf 'Subject: x\n\nx\n' | "$POSTHORN" sendmail -C "$CFG" alice@a.test`)
	if code != 75 || !strings.Contains(out, "is it running?") {
		t.Errorf("daemon down: exit %d, output %q", code, out)
	}
}

// loginOf is the user name in "uid N name", or "uidN".
func loginOf(peer string) string {
	f := strings.Fields(peer)
	if len(f) == 3 {
		return f[2]
	}
	return "uid" + f[1]
}

// TestSendmailPHP: PHP's mail() with sendmail_path pointing at posthorn,
// the caller this command exists for: the extra From: and Bcc: headers,
// -f in additional_params, and mail()'s own To: and Subject:.
func TestSendmailPHP(t *testing.T) {
	php := tools.Look(t, "php")
	e := newSendmailEnv(t)
	script := `exit(mail("alice@a.test", "Order confirmation", "Thank you.\nLine two\n.\nafter a dot line", "From: Web Shop <noreply@a.test>\r\nBcc: bob@a.test", "-fbounces@a.test") ? 0 : 1);`
	cmd := exec.Command(php, "-n", "-d", "sendmail_path="+binary+" sendmail -C "+e.cfg+" -t -i", "-r", script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("php mail(): %v\n%s\nserver:\n%s", err, out, e.srv.out)
	}
	alice := e.message(t, "alice@a.test", 1)
	for _, want := range []string{
		"Return-Path: <bounces@a.test>\r\n",
		"DKIM-Signature: a=rsa-sha256; ",
		"\r\nTo: alice@a.test\r\n", "\r\nSubject: Order confirmation\r\n", "\r\nFrom: Web Shop <noreply@a.test>\r\n",
		"\r\n\r\nThank you.\r\nLine two\r\n.\r\nafter a dot line",
	} {
		if !strings.Contains(alice, want) {
			t.Errorf("alice's copy lacks %q:\n%s", want, alice)
		}
	}
	if strings.Contains(strings.ToLower(alice), "bcc:") {
		t.Errorf("Bcc: reached alice:\n%s", alice)
	}
	if bob := e.message(t, "bob@a.test", 1); !strings.Contains(bob, "Subject: Order confirmation\r\n") {
		t.Errorf("bob's blind copy:\n%s", bob)
	}

	// A foreign From: makes mail() return false.
	script = `exit(mail("alice@a.test", "x", "x", "From: ceo@bank.test") ? 0 : 3);`
	cmd = exec.Command(php, "-n", "-d", "sendmail_path="+binary+" sendmail -C "+e.cfg+" -t -i", "-r", script)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("php mail() with a foreign From: %v\n%s", err, out)
	}
}

// TestQueueWakeOnEnqueue: a message queued through the sendmail socket
// reaches the remote MX at once, not at the delivery worker's next poll
// (every second): the mean time from the command's exit to smtp-sink's
// file over ten messages stays far below the half second polling alone
// would average (P(mean < 250 ms) < 0.3% with polling).
func TestQueueWakeOnEnqueue(t *testing.T) {
	e := newSendmailEnv(t)
	const n = 10
	var total time.Duration
	for i := range n {
		subject := fmt.Sprintf("wake %d %d", i, time.Now().UnixNano())
		if out, code := e.sh(t, `printf 'Subject: `+subject+`\n\nx\n' | "$POSTHORN" sendmail -C "$CFG" -f noreply@a.test x@sink.test`); code != 0 {
			t.Fatalf("sendmail: exit %d\n%s", code, out)
		}
		start := time.Now()
		deadline := start.Add(60 * time.Second)
		for !sinkHas(e.sinkDir, subject) {
			if time.Now().After(deadline) {
				t.Fatalf("message %d not at smtp-sink after 60s\n%s", i, e.srv.out)
			}
			time.Sleep(2 * time.Millisecond)
		}
		total += time.Since(start)
	}
	mean := total / n
	t.Logf("mean time from enqueue to the remote MX: %v over %d messages", mean, n)
	if mean > 250*time.Millisecond {
		t.Errorf("mean %v: the worker waits for its poll instead of being woken", mean)
	}
}

func sinkHas(dir, subject string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		if b, _ := os.ReadFile(f); strings.Contains(string(b), subject) {
			return true
		}
	}
	return false
}
