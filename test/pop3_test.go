package test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// popScript sends a message as alice through submission (587, STARTTLS,
// AUTH PLAIN) to bob, then fetches it as bob over POP3 on both dev ports
// (110 with STLS, 995 with implicit TLS), deleting it on the second, and
// checks the maildrop is then empty. It prints the message as RETR gave it.
const popScript = `
import poplib, smtplib, ssl, sys
host, sub, pop3, pop3s, ca, alice, apw, bob, bpw = sys.argv[1:]
ctx = ssl.create_default_context(cafile=ca)
s = smtplib.SMTP(host, int(sub))
s.starttls(context=ctx)
s.login(alice, apw)
s.sendmail(alice, [bob], "From: %s\r\nTo: %s\r\nSubject: pop3 e2e\r\n\r\n.leading dot\r\nbody\r\n" % (alice, bob))
s.quit()

p = poplib.POP3(host, int(pop3))
p.stls(context=ctx)
p.user(bob); p.pass_(bpw)
n, size = p.stat()
assert n == 1, ("stat", n)
resp, lines, octets = p.retr(1)
assert octets == size, ("RETR octets %d != STAT size %d" % (octets, size))
p.quit()

p = poplib.POP3_SSL(host, int(pop3s), context=ctx)
p.user(bob); p.pass_(bpw)
resp, lines2, _ = p.retr(1)
assert lines2 == lines
p.dele(1)
p.quit()

p = poplib.POP3_SSL(host, int(pop3s), context=ctx)
p.user(bob); p.pass_(bpw)
assert p.stat()[0] == 0, "DELE then QUIT did not delete"
p.quit()
sys.stdout.buffer.write(b"\r\n".join(lines) + b"\r\n")
`

// TestDevModePOP3 checks the POP3 listeners of dev mode end to end with
// Python's smtplib and poplib, against the real binary.
func TestDevModePOP3(t *testing.T) {
	py := tools.Look(t, "python3")
	dir := filepath.Join(t.TempDir(), "dev")
	s := startDev(t, dir, loopbackIP(t))
	for _, p := range []string{"submission", "pop3", "pop3s"} {
		if s.info.Ports[p] == 0 {
			t.Fatalf("dev.json has no %s port: %v", p, s.info.Ports)
		}
	}
	alice, bob := s.info.Accounts[0], s.info.Accounts[1]
	out, err := exec.Command(py, "-c", popScript, s.info.Host,
		itoa(s.info.Ports["submission"]), itoa(s.info.Ports["pop3"]), itoa(s.info.Ports["pop3s"]),
		s.info.CAFile, alice.Address, alice.Password, bob.Address, bob.Password).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s\nserver output:\n%s", err, out, s.out)
	}
	got := string(out)
	if !strings.Contains(got, "Subject: pop3 e2e\r\n") || !strings.Contains(got, "\r\n.leading dot\r\n") {
		t.Fatalf("RETR gave:\n%q", got)
	}
	if !strings.HasPrefix(got, "Return-Path: <alice@example.test>\r\nReceived: ") {
		t.Errorf("RETR lacks the trace headers:\n%q", got)
	}
	if err := s.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
}
