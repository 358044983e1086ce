package test

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/certs"
	"github.com/posthorn/posthorn/internal/certs/certstest"
	"github.com/posthorn/posthorn/internal/delivery/deliverytest"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// pyRequireTLS submits one message with the REQUIRETLS MAIL FROM
// parameter (RFC 8689) over STARTTLS.
const pyRequireTLS = `
import smtplib, ssl, sys
host, port, ca, subject, rcpt, opts = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
with smtplib.SMTP(host, port, local_hostname='client.test', timeout=60) as s:
    s.starttls(context=ctx)
    s.login('alice@a.test', 'alice-passw0rd')
    msg = 'From: alice@a.test\r\nTo: %s\r\nSubject: %s\r\n\r\nOnly over verified TLS.\r\n' % (rcpt, subject)
    s.sendmail('alice@a.test', [rcpt], msg, mail_options=opts)
`

// TestREQUIRETLSOverDANE: a message submitted with REQUIRETLS leaves only
// over TLS verified by DANE (DNSSEC-signed MX and TLSA records, a
// resolver trusted to validate) to a server that supports REQUIRETLS; the
// second posthorn receives it. The same server under a domain whose DNS
// is not signed gets ordinary mail but not REQUIRETLS mail, which stays
// queued (RFC 8689 §4.2.1).
func TestREQUIRETLSOverDANE(t *testing.T) {
	py := tools.Look(t, "python3")
	n := newOutboundNet(t)
	root := t.TempDir()
	dirA, dirB := filepath.Join(root, "a"), filepath.Join(root, "b")

	// B's certificate is from a private CA nobody trusts: only DANE can
	// vouch for it.
	tlsB := certstest.Dev(t, filepath.Join(dirB, "tls"), []string{"mx.b.test"})
	pair, err := certs.Load(tlsB.CertFile, tlsB.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	spki := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	zones := dnstest.Start(t, dnstest.Zone{Origin: "b.test", AD: true,
		Records: "@ MX 10 mx\nmx A " + n.b + "\n_25._tcp.mx TLSA 3 1 1 " + hex.EncodeToString(spki[:]) + "\n"},
		dnstest.Zone{Origin: "c.test", Records: "@ MX 10 mx.b.test.\n"})

	addAccount(t, filepath.Join(dirB, "data"), "bob@b.test", "bob-passw0rd")
	addAccount(t, filepath.Join(dirB, "data"), "carol@c.test", "carol-passw0rd")
	srvB := startServe(t, dirB, fmt.Sprintf(`hostname = "mx.b.test"
domains = ["b.test", "c.test"]
data_dir = %q
[[listeners]]
role = "smtp"
address = "%s:%d"
[tls]
cert_file = %q
key_file = %q
[dns]
servers = [%q]
[delivery]
enabled = false
`, filepath.Join(dirB, "data"), n.b, n.port, tlsB.CertFile, tlsB.KeyFile, zones.Addr())+dataStoreTOML(t, filepath.Join(dirB, "data")), fmt.Sprintf("%s:%d", n.b, n.port))

	dataA := filepath.Join(dirA, "data")
	addAccount(t, dataA, "alice@a.test", "alice-passw0rd")
	tlsA := certstest.Dev(t, filepath.Join(dirA, "tls"), []string{"mail.a.test"})
	subPort := deliverytest.FreePort(t, n.a)
	subAddr := fmt.Sprintf("%s:%d", n.a, subPort)
	srvA := startServe(t, dirA, serveConfig("mail.a.test", dataA, "submission", subAddr, zones.Addr())+"trust_ad = true\n"+dataStoreTOML(t, dataA)+
		fmt.Sprintf("[tls]\ncert_file = %q\nkey_file = %q\n[delivery]\nport = %d\nretry_min = \"1s\"\nretry_max = \"2s\"\n", tlsA.CertFile, tlsA.KeyFile, n.port), subAddr)

	subject := fmt.Sprintf("requiretls %x", rand.Uint64())
	submit := func(rcpt, subject string, opts ...string) {
		args := append([]string{"-c", pyRequireTLS, n.a, fmt.Sprint(subPort), tlsA.CAFile, subject, rcpt}, opts...)
		if out, err := exec.Command(py, args...).CombinedOutput(); err != nil {
			t.Fatalf("python: %v\n%s", err, out)
		}
	}
	submit("bob@b.test", subject, "REQUIRETLS")        // queue ID 1
	submit("carol@c.test", subject+" c", "REQUIRETLS") // 2: must wait
	submit("carol@c.test", subject+" plain")           // 3: goes
	for _, w := range []struct{ who, subject string }{{"bob@b.test", subject}, {"carol@c.test", subject + " plain"}} {
		waitFor(t, 60*time.Second, w.who+"'s INBOX", func() bool {
			out, _ := runAt(t, nil, filepath.Join(dirB, "data"), "message list", w.who)
			return strings.Contains(out, w.subject)
		}, srvA, srvB)
	}
	var show string
	waitFor(t, 60*time.Second, "two attempts of the REQUIRETLS message to c.test", func() bool {
		show, _ = runAt(t, nil, dataA, "queue show", "2")
		return regexp.MustCompile(`(?m)^Attempts: +([2-9]|\d\d+)$`).MatchString(show)
	}, srvA, srvB)
	if !strings.Contains(show, "REQUIRETLS:   true") || !strings.Contains(show, "4.7.30") || !strings.Contains(show, "<carol@c.test>\tpending") {
		t.Errorf("REQUIRETLS message to an unsigned domain:\n%s", show)
	}
	if out, _ := runAt(t, nil, filepath.Join(dirB, "data"), "message list", "carol@c.test"); strings.Contains(out, subject+" c") {
		t.Errorf("the REQUIRETLS message reached an MX found without DNSSEC:\n%s", out)
	}
	for _, s := range []*devServer{srvA, srvB} {
		if err := s.stop(syscall.SIGTERM); err != nil {
			t.Errorf("server did not stop cleanly: %v", err)
		}
	}
}
