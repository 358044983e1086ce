package test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// imapScript sends a message as alice through submission to bob, then
// reads bob's mailboxes with Python's imaplib on both dev IMAP ports (143
// with STARTTLS, 993 with implicit TLS): capabilities, LIST, STATUS,
// APPEND with APPENDUID, CREATE and DELETE.
const imapScript = `
import imaplib, smtplib, ssl, sys
host, sub, imap, imaps, ca, alice, apw, bob, bpw = sys.argv[1:]
ctx = ssl.create_default_context(cafile=ca)
s = smtplib.SMTP(host, int(sub))
s.starttls(context=ctx)
s.login(alice, apw)
s.sendmail(alice, [bob], "From: %s\r\nTo: %s\r\nSubject: imap e2e\r\n\r\nbody\r\n" % (alice, bob))
s.quit()

m = imaplib.IMAP4(host, int(imap))
assert "LOGINDISABLED" in m.capabilities, m.capabilities
m.starttls(ssl_context=ctx)
m.login(bob, bpw)
assert "IDLE" in m.capabilities and "IMAP4REV2" in m.capabilities, m.capabilities
typ, data = m.list()
assert typ == "OK" and any(b'"INBOX"' in l or b' INBOX' in l for l in data), data
assert any(b"\\Sent" in l for l in data), data
typ, data = m.status("INBOX", "(MESSAGES UIDNEXT)")
assert typ == "OK" and b"MESSAGES 1" in data[0], data
typ, data = m.select("INBOX")
assert typ == "OK" and data[0] == b"1", data
typ, data = m.uid("SEARCH", None, "SUBJECT", "\"imap e2e\"")
assert typ == "OK" and data[0] == b"1", data
typ, data = m.fetch("1", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
assert typ == "OK" and b"Subject: imap e2e" in data[0][1], data
assert m.store("1", "+FLAGS", "(\\Seen)")[0] == "OK"
assert m.close()[0] == "OK"
typ, data = m.append("Drafts", "(\\Draft)", None, b"Subject: draft\r\n\r\nx\r\n")
assert typ == "OK" and b"APPENDUID" in data[0], data
assert m.create("Projects/2026")[0] == "OK"
assert m.delete("Projects/2026")[0] == "OK"
m.logout()

m = imaplib.IMAP4_SSL(host, int(imaps), ssl_context=ctx)
m.login(bob, bpw)
typ, data = m.status("Drafts", "(MESSAGES)")
assert typ == "OK" and b"MESSAGES 1" in data[0], data
m.logout()
print("imap ok")
`

// TestDevModeIMAP checks the IMAP listeners of dev mode end to end with
// Python's smtplib and imaplib, against the real binary.
func TestDevModeIMAP(t *testing.T) {
	py := tools.Look(t, "python3")
	dir := filepath.Join(t.TempDir(), "dev")
	s := startDev(t, dir, loopbackIP(t))
	for _, p := range []string{"submission", "imap", "imaps"} {
		if s.info.Ports[p] == 0 {
			t.Fatalf("dev.json has no %s port: %v", p, s.info.Ports)
		}
	}
	if s.info.Ports["imap"] != 10143 || s.info.Ports["imaps"] != 10993 {
		t.Errorf("dev.json IMAP ports %d, %d, want the documented 10143, 10993", s.info.Ports["imap"], s.info.Ports["imaps"])
	}
	alice, bob := s.info.Accounts[0], s.info.Accounts[1]
	out, err := exec.Command(py, "-c", imapScript, s.info.Host,
		itoa(s.info.Ports["submission"]), itoa(s.info.Ports["imap"]), itoa(s.info.Ports["imaps"]),
		s.info.CAFile, alice.Address, alice.Password, bob.Address, bob.Password).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s\nserver output:\n%s", err, out, s.out)
	}
	if !strings.Contains(string(out), "imap ok") {
		t.Fatalf("script output:\n%s", out)
	}
	if err := s.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
}
