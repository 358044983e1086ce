package test

import (
	"fmt"
	"math/rand/v2"
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

// TestDKIMSignedDelivery: keys made with `posthorn dkim keygen` and
// published as it prints them; a message submitted to one posthorn
// reaches a second one, whose receiving checks find both signatures
// (RSA and Ed25519) valid and DMARC aligned.
func TestDKIMSignedDelivery(t *testing.T) {
	swaks := tools.Look(t, "swaks")
	n := newOutboundNet(t)
	root := t.TempDir()
	dirA, dirB := filepath.Join(root, "a"), filepath.Join(root, "b")
	dataA := filepath.Join(dirA, "data")
	addAccount(t, dataA, "alice@a.test", "alice-passw0rd")
	out, err := runAt(t, nil, dataA, "dkim keygen", "a.test")
	if err != nil {
		t.Fatalf("dkim keygen: %v\n%s", err, out)
	}
	keyRecords := regexp.MustCompile(`(?m)^\S+\._domainkey\.a\.test\. 3600 IN TXT .*$`).FindAllString(out, -1)
	if len(keyRecords) != 2 {
		t.Fatalf("dkim keygen printed %d records:\n%s", len(keyRecords), out)
	}
	zones := dnstest.Start(t,
		dnstest.Zone{Origin: "a.test", Records: strings.Join(keyRecords, "\n") + "\n_dmarc TXT \"v=DMARC1; p=reject\"\nmail A " + n.a + "\n"},
		dnstest.Zone{Origin: "b.test", Records: "@ MX 10 mx\nmx A " + n.b},
	)

	addAccount(t, filepath.Join(dirB, "data"), "bob@b.test", "bob-passw0rd")
	addrB := fmt.Sprintf("%s:%d", n.b, n.port)
	srvB := startServe(t, dirB, serveConfigAt(t, "mx.b.test", filepath.Join(dirB, "data"), "smtp", addrB, zones.Addr())+
		"[checks]\ntrusted_networks = []\n[delivery]\nenabled = false\n", addrB)

	tlsA := certstest.Dev(t, filepath.Join(dirA, "tls"), []string{"mail.a.test"})
	subPort := deliverytest.FreePort(t, n.a)
	subAddr := fmt.Sprintf("%s:%d", n.a, subPort)
	srvA := startServe(t, dirA, serveConfigAt(t, "mail.a.test", dataA, "submission", subAddr, zones.Addr())+
		fmt.Sprintf("[tls]\ncert_file = %q\nkey_file = %q\n[delivery]\nport = %d\nsource_address = %q\nretry_min = \"1s\"\nretry_max = \"2s\"\n", tlsA.CertFile, tlsA.KeyFile, n.port, n.a), subAddr)

	subject := fmt.Sprintf("signed %x", rand.Uint64())
	sout, err := exec.Command(swaks, "--server", fmt.Sprintf("%s:%d", n.a, subPort), "--tls",
		"--auth", "PLAIN", "--auth-user", "alice@a.test", "--auth-password", "alice-passw0rd",
		"--from", "alice@a.test", "--to", "bob@b.test", "--header", "Subject: "+subject,
		"--body", "Signed twice.\n", "--timeout", "30").CombinedOutput()
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, sout)
	}
	waitFor(t, 60*time.Second, "bob@b.test's INBOX", func() bool {
		out, _ := runAt(t, nil, filepath.Join(dirB, "data"), "message list", "bob@b.test")
		return strings.Contains(out, subject)
	}, srvA, srvB)
	for _, s := range []*devServer{srvA, srvB} {
		if err := s.stop(syscall.SIGTERM); err != nil {
			t.Errorf("server did not stop cleanly: %v", err)
		}
	}
	st := openDataStore(t, filepath.Join(dirB, "data"))
	bodies := inboxBodies(t, st, "bob@b.test")
	st.Close()
	if len(bodies) != 1 {
		t.Fatalf("bob has %d messages", len(bodies))
	}
	msg := bodies[0]
	header := msg[:strings.Index(msg, "\r\n\r\n")]
	if n := strings.Count(header, "DKIM-Signature:"); n != 2 {
		t.Errorf("%d DKIM-Signature fields, want 2:\n%s", n, header)
	}
	ar := regexp.MustCompile(`(?s)Authentication-Results: mx\.b\.test;.*?\r\n[^ \t]`).FindString(header)
	for _, want := range []string{"dkim=pass header.d=a.test header.i=@a.test header.s=rsa-", "dkim=pass header.d=a.test header.i=@a.test header.s=ed25519-", "dmarc=pass header.from=a.test"} {
		if !strings.Contains(ar, want) {
			t.Errorf("Authentication-Results lacks %q:\n%s", want, ar)
		}
	}
	if n := strings.Count(ar, "dkim=pass"); n != 2 {
		t.Errorf("%d dkim=pass, want 2:\n%s", n, ar)
	}
}
