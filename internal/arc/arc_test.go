package arc_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/arc"
	"github.com/posthorn/posthorn/internal/dkim"
	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// arcSign adds one ARC set with dkimpy (an independent implementation;
// its ARC signing is RSA only): an Authentication-Results of the hop goes
// on top (with arc=pass when there is a chain already: dkimpy takes the
// cv= of the new seal from there), then dkimpy seals.
const arcSign = `
import dkim, sys
msg = open(sys.argv[1], 'rb').read()
srv = sys.argv[2].encode()
arc = b'arc=pass; ' if b'ARC-Seal:' in msg else b''
msg = b'Authentication-Results: ' + srv + b'; ' + arc + b'spf=pass smtp.mailfrom=a@origin.test\r\n' + msg
sets = dkim.arc_sign(msg, sys.argv[4].encode(), srv, open(sys.argv[3], 'rb').read(), srv)
sys.stdout.buffer.write(b''.join(sets) + msg)
`

type hop struct {
	domain, selector, keyFile string
}

func TestVerifyDkimpyChains(t *testing.T) {
	t.Parallel()
	py := tools.Python(t, "dkim", "nacl", "authres")
	dir := t.TempDir()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	rsaFile := filepath.Join(dir, "rsa.pem")
	os.WriteFile(rsaFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	rsaRec, _ := dkim.Record(rsaKey.Public())
	srv := dnstest.Start(t,
		dnstest.Zone{Origin: "lists.test", Records: dkim.ZoneEntry("s1", "lists.test", rsaRec) + "\n"},
		dnstest.Zone{Origin: "forward.test", Records: dkim.ZoneEntry("s2", "forward.test", rsaRec) + "\n"},
		dnstest.Zone{Origin: "flaky.test", Records: "@ TXT \"x\"\n", ServFail: []string{"s1._domainkey"}},
	)
	r, err := dns.New(dns.Config{Servers: []string{srv.Addr()}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	seal := func(msg string, h hop) string {
		f := filepath.Join(t.TempDir(), "msg")
		os.WriteFile(f, []byte(msg), 0o600)
		cmd := exec.Command(py, "-c", arcSign, f, h.domain, h.keyFile, h.selector)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("python: %v\n%s", err, stderr.String())
		}
		return string(out)
	}
	orig := "From: <a@origin.test>\r\nTo: <list@lists.test>\r\nSubject: arc\r\nDate: Sat, 14 Mar 2026 15:09:26 +0100\r\n\r\nHello  there.\r\n\r\n"
	one := seal(orig, hop{"lists.test", "s1", rsaFile})
	two := seal(one, hop{"forward.test", "s2", rsaFile})

	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		msg       string
		want      arc.Status
		instances int
	}{
		{"no ARC", orig, arc.None, 0},
		{"one set (RSA)", one, arc.Pass, 1},
		{"two sets", two, arc.Pass, 2},
		{"body changed", strings.Replace(two, "Hello", "Hullo", 1), arc.Fail, 2},
		{"first AAR changed", strings.Replace(two, "ARC-Authentication-Results: i=1; lists.test; spf=pass", "ARC-Authentication-Results: i=1; lists.test; spf=fail", 1), arc.Fail, 2},
		{"a set removed", removeSet(two, 2), arc.Pass, 1},
		{"newest seal removed", removeField(two, "ARC-Seal: i=2"), arc.Fail, 2},
		{"seal key unavailable", strings.ReplaceAll(one, "d=lists.test", "d=flaky.test"), arc.TempError, 1},
	} {
		got := arc.Verify(ctx, r, []byte(tc.msg))
		if got.Status != tc.want || got.Instances != tc.instances {
			t.Errorf("%s: %s with %d sets (%v), want %s with %d", tc.name, got.Status, got.Instances, got.Err, tc.want, tc.instances)
		}
	}
	if got := arc.Verify(ctx, r, []byte(two)); strings.Join(got.Sealers, " ") != "lists.test forward.test" {
		t.Errorf("sealers %v", got.Sealers)
	}
}

// removeField drops the header field starting with prefix.
func removeField(msg, prefix string) string {
	i := strings.Index(msg, prefix)
	if i < 0 {
		return msg
	}
	j := i + strings.Index(msg[i:], "\r\n") + 2
	for j < len(msg) && (msg[j] == ' ' || msg[j] == '\t') {
		j += strings.Index(msg[j:], "\r\n") + 2
	}
	return msg[:i] + msg[j:]
}

// removeSet drops the three fields of instance i and the
// Authentication-Results the hop added (so the rest is the message as
// that hop received it).
func removeSet(msg string, i int) string {
	n := "i=" + string(rune('0'+i)) + ";"
	for _, p := range []string{"ARC-Seal: " + n, "ARC-Message-Signature: " + n, "ARC-Authentication-Results: " + n} {
		msg = removeField(msg, p)
	}
	return removeField(msg, "Authentication-Results: forward.test")
}
