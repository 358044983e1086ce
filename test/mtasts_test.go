package test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/certs/certstest"
	"github.com/posthorn/posthorn/internal/delivery/deliverytest"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// TestMTASTSEnforceWithoutSTARTTLS: the destination publishes an MTA-STS
// policy in mode enforce (already in the sender's durable policy cache,
// as after an earlier fetch) and its MX offers no STARTTLS. The message is
// not delivered in plaintext: it stays in the queue, retried, with the
// policy named in its last error; the receiver gets nothing.
func TestMTASTSEnforceWithoutSTARTTLS(t *testing.T) {
	swaks := tools.Look(t, "swaks")
	n := newOutboundNet(t)
	root := t.TempDir()
	zones := dnstest.Start(t, dnstest.Zone{Origin: "b.test", Records: "@ MX 10 mx\nmx A " + n.b + "\n_mta-sts TXT \"v=STSv1; id=7\"\n"})

	// The receiver: a posthorn without a certificate, so no STARTTLS.
	dirB := filepath.Join(root, "b")
	addAccount(t, filepath.Join(dirB, "data"), "bob@b.test", "bob-passw0rd")
	addrB := fmt.Sprintf("%s:%d", n.b, n.port)
	srvB := startServe(t, dirB, serveConfigAt(t, "mx.b.test", filepath.Join(dirB, "data"), "smtp", addrB, zones.Addr())+"[delivery]\nenabled = false\n", addrB)

	// The sender, with b.test's policy in its cache (DATA/mta-sts).
	dirA := filepath.Join(root, "a")
	dataA := filepath.Join(dirA, "data")
	addAccount(t, dataA, "alice@a.test", "alice-passw0rd")
	cached, _ := json.Marshal(map[string]any{"domain": "b.test", "id": "7", "mode": "enforce", "mx": []string{"mx.b.test"},
		"max_age": 86400, "fetched": time.Now().UTC()})
	if err := os.MkdirAll(filepath.Join(dataA, "mta-sts"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataA, "mta-sts", "b.test.json"), cached, 0o600); err != nil {
		t.Fatal(err)
	}
	tlsA := certstest.Dev(t, filepath.Join(dirA, "tls"), []string{"mail.a.test"})
	subPort := deliverytest.FreePort(t, n.a)
	subAddr := fmt.Sprintf("%s:%d", n.a, subPort)
	srvA := startServe(t, dirA, serveConfigAt(t, "mail.a.test", dataA, "submission", subAddr, zones.Addr())+
		fmt.Sprintf("[tls]\ncert_file = %q\nkey_file = %q\n[delivery]\nport = %d\nretry_min = \"1s\"\nretry_max = \"1s\"\n", tlsA.CertFile, tlsA.KeyFile, n.port), subAddr)

	subject := fmt.Sprintf("mta-sts %x", rand.Uint64())
	out, err := exec.Command(swaks, "--server", fmt.Sprintf("%s:%d", n.a, subPort), "--tls",
		"--auth", "PLAIN", "--auth-user", "alice@a.test", "--auth-password", "alice-passw0rd",
		"--from", "alice@a.test", "--to", "bob@b.test", "--header", "Subject: "+subject,
		"--body", "Not in plaintext.\n", "--timeout", "30").CombinedOutput()
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	// Wait for three attempts: each one connected to B, found no STARTTLS
	// and gave up on that host.
	attempts := regexp.MustCompile(`(?m)^Attempts: +(\d+)$`)
	var show string
	waitFor(t, 60*time.Second, "three delivery attempts", func() bool {
		show, _ = runAt(t, nil, dataA, "queue show", "1")
		m := attempts.FindStringSubmatch(show)
		if m == nil {
			return false
		}
		k, _ := strconv.Atoi(m[1])
		return k >= 3
	}, srvA, srvB)
	if !strings.Contains(show, "mta-sts") || !strings.Contains(show, "4.7.5") || !strings.Contains(show, "<bob@b.test>\tpending") {
		t.Errorf("queued message:\n%s", show)
	}
	for _, s := range []*devServer{srvA, srvB} {
		if err := s.stop(syscall.SIGTERM); err != nil {
			t.Errorf("server did not stop cleanly: %v", err)
		}
	}
	if out, _ := runAt(t, nil, filepath.Join(dirB, "data"), "message list", "bob@b.test"); strings.Contains(out, subject) {
		t.Errorf("the message reached bob in plaintext:\n%s", out)
	}
}
