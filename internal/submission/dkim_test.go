package submission

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"

	"github.com/posthorn/posthorn/internal/dkim"
	"github.com/posthorn/posthorn/internal/dkim/dkimtest"
)

// A domain without keys: the message goes unsigned, not refused.
func TestDKIMNoKey(t *testing.T) {
	t.Parallel()
	signer, err := dkim.NewDirSigner(dkim.KeyDir{Dir: filepath.Join(t.TempDir(), "none")}, dkim.SignOptions{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOpts{signer: signer})
	c := e.client587()
	if err := c.Auth(sasl.NewPlainClient("", "alice@example.test", alicePW)); err != nil {
		t.Fatal(err)
	}
	if _, err := send(t, c, "alice@example.test", []string{"x@remote.test"}, "From: alice@example.test\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	if q := e.queue(); len(q) != 1 || strings.Contains(string(q[0].Body), "DKIM-Signature") {
		t.Errorf("queue = %d messages, want one unsigned", len(q))
	}
}

// smtplibSend submits one message over STARTTLS with Python's smtplib.
const smtplibSend = `
import smtplib, ssl, sys
host, port, ca, user, pw, to = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6].split(',')
ctx = ssl.create_default_context(cafile=ca)
with smtplib.SMTP(host, port, local_hostname='client.test', timeout=60) as s:
    s.starttls(context=ctx)
    s.login(user, pw)
    s.sendmail(user, to, sys.stdin.read().encode())
`

// Submitted mail is signed with every key of the From: domain (RSA and
// Ed25519 side by side) before it is queued or delivered; dkimpy verifies
// both signatures on both copies, and none after tampering. A domain
// without keys goes unsigned.
func TestDKIMSigned(t *testing.T) {
	t.Parallel()
	py := dkimtest.Python(t)
	dir := t.TempDir()
	kd := dkim.KeyDir{Dir: filepath.Join(dir, "dkim")}
	for _, alg := range []dkim.Algorithm{dkim.RSA, dkim.Ed25519} {
		if _, err := kd.Generate("example.test", "s-"+string(alg), alg); err != nil {
			t.Fatal(err)
		}
	}
	signer, err := dkim.NewDirSigner(kd, dkim.SignOptions{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOpts{signer: signer})
	host, port, _ := strings.Cut(e.addr587, ":")
	msg := "From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: signed\r\n\r\nHello, signed world.\r\n"
	runTool(t, msg, py, "-c", smtplibSend, host, port, e.caFile, "alice@example.test", alicePW, "bob@example.test,x@remote.test")

	q := e.queue()
	inbox := e.inbox("bob@example.test")
	if len(q) != 1 || len(inbox) != 1 {
		t.Fatalf("queue %d, bob's INBOX %d messages", len(q), len(inbox))
	}
	queued := string(q[0].Body)
	if n := strings.Count(queued, "DKIM-Signature:"); n != 2 {
		t.Fatalf("queued copy has %d signatures, want 2:\n%s", n, queued)
	}
	records := dkimtest.Records(t, kd)
	files := map[string]string{
		"queued":          queued,
		"local":           inbox[0],
		"tampered body":   strings.Replace(queued, "signed world", "forged world", 1),
		"tampered header": strings.Replace(queued, "Subject: signed", "Subject: forged", 1),
		"added Cc":        strings.Replace(queued, "Subject: signed", "Cc: eve@example.net\r\nSubject: signed", 1),
	}
	want := map[string][]bool{
		"queued": {true, true}, "local": {true, true},
		"tampered body": {false, false}, "tampered header": {false, false}, "added Cc": {false, false},
	}
	names := []string{"queued", "local", "tampered body", "tampered header", "added Cc"}
	var msgs []string
	for _, n := range names {
		msgs = append(msgs, files[n])
	}
	got := dkimtest.Verify(t, py, records, msgs)
	for i, n := range names {
		if !slices.Equal(got[i], want[n]) {
			t.Errorf("%s: dkimpy verdicts %v, want %v", n, got[i], want[n])
		}
	}
}
