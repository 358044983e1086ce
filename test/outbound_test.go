package test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/certs/certstest"
	"github.com/posthorn/posthorn/internal/delivery/deliverytest"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/testutil/syncbuf"
	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// outboundNet is a set of loopback addresses for one test: .1 the sending
// posthorn, .2 a receiving posthorn, .3 Postfix's smtp-sink; MX hosts all
// listen on one port, as they would on 25.
type outboundNet struct {
	a, b, sink string
	port       int
}

func newOutboundNet(t *testing.T) outboundNet {
	base := fmt.Sprintf("127.%d.%d.", 100+rand.IntN(100), rand.IntN(256))
	n := outboundNet{a: base + "1", b: base + "2", sink: base + "3"}
	n.port = deliverytest.FreePort(t, n.b, n.sink)
	return n
}

// addAccount creates an account with the CLI before the server starts, in
// the store of dataDir wherever POSTHORN_TEST_STORE put it (runAt).
func addAccount(t *testing.T, dataDir, addr, password string) {
	t.Helper()
	dom := addr[strings.IndexByte(addr, '@')+1:]
	if out, err := runAt(t, nil, dataDir, "domain add", dom); err != nil && !strings.Contains(out, "already exists") {
		t.Fatalf("domain add: %v\n%s", err, out)
	}
	if out, err := runAt(t, strings.NewReader(password+"\n"), dataDir, "account add", addr); err != nil {
		t.Fatalf("account add: %v\n%s", err, out)
	}
}

// TestOutboundDelivery: a message submitted to one posthorn goes, by MX
// records of the test's own DNS server, to a second posthorn (over
// STARTTLS), to Postfix's smtp-sink and, through a route, to the
// reference Postfix when it runs; an unknown user and a null MX come back
// to the sender's INBOX as delivery status notifications; the queue ends
// empty.
func TestOutboundDelivery(t *testing.T) {
	swaks := tools.Look(t, "swaks")
	smtpSink := tools.Look(t, "smtp-sink")
	n := newOutboundNet(t)
	root := t.TempDir()
	zones := dnstest.Start(t,
		dnstest.Zone{Origin: "b.test", Records: "@ MX 10 mx\nmx A " + n.b},
		dnstest.Zone{Origin: "sink.test", Records: "@ MX 10 mx\nmx A " + n.sink},
		dnstest.Zone{Origin: "nullmx.test", Records: "@ MX 0 ."},
	)

	// Receiving posthorn for b.test, with a certificate (STARTTLS).
	dirB := filepath.Join(root, "b")
	addAccount(t, filepath.Join(dirB, "data"), "bob@b.test", "bob-passw0rd")
	tlsB := certstest.Dev(t, filepath.Join(dirB, "tls"), []string{"mx.b.test"})
	cfgB := serveConfigAt(t, "mx.b.test", filepath.Join(dirB, "data"), "smtp", fmt.Sprintf("%s:%d", n.b, n.port), zones.Addr()) +
		fmt.Sprintf("[tls]\ncert_file = %q\nkey_file = %q\n[delivery]\nenabled = false\n", tlsB.CertFile, tlsB.KeyFile)
	srvB := startServe(t, dirB, cfgB, fmt.Sprintf("%s:%d", n.b, n.port))

	// Postfix's smtp-sink for sink.test, keeping each message in a file.
	sinkDir := startSmtpSink(t, smtpSink, fmt.Sprintf("%s:%d", n.sink, n.port))

	// The reference Postfix (../shared/refstack), when it runs, by a route.
	refstack := readRefstack()
	route := ""
	if refstack == nil {
		t.Log("reference Postfix (../shared/refstack) not running: that leg is left out")
	} else {
		t.Logf("reference Postfix at %s:%s: mail for %s goes there by a route", refstack["HOST"], refstack["SMTP_PORT"], refstack["DOMAIN"])
		route = fmt.Sprintf("[[delivery.routes]]\ndomain = %q\nhost = \"%s:%s\"\n", refstack["DOMAIN"], refstack["HOST"], refstack["SMTP_PORT"])
	}

	// Sending posthorn for a.test.
	dirA := filepath.Join(root, "a")
	dataA := filepath.Join(dirA, "data")
	addAccount(t, dataA, "alice@a.test", "alice-passw0rd")
	tlsA := certstest.Dev(t, filepath.Join(dirA, "tls"), []string{"mail.a.test"}, net.ParseIP(n.a))
	subPort := deliverytest.FreePort(t, n.a)
	cfgA := serveConfigAt(t, "mail.a.test", dataA, "submission", fmt.Sprintf("%s:%d", n.a, subPort), zones.Addr()) +
		fmt.Sprintf("[tls]\ncert_file = %q\nkey_file = %q\n[delivery]\nport = %d\nretry_min = \"1s\"\nretry_max = \"2s\"\n%s",
			tlsA.CertFile, tlsA.KeyFile, n.port, route)
	srvA := startServe(t, dirA, cfgA, fmt.Sprintf("%s:%d", n.a, subPort))

	rcpts := []string{"bob@b.test", "x@sink.test", "nobody@b.test", "y@nullmx.test"}
	if refstack != nil {
		rcpts = append(rcpts, refstack["USER2"])
	}
	subject := fmt.Sprintf("outbound %x", rand.Uint64())
	out, err := exec.Command(swaks, "--server", fmt.Sprintf("%s:%d", n.a, subPort), "--tls", "--tls-verify", "--tls-ca-path", tlsA.CAFile,
		"--auth", "PLAIN", "--auth-user", "alice@a.test", "--auth-password", "alice-passw0rd",
		"--from", "alice@a.test", "--to", strings.Join(rcpts, ","), "--header", "Subject: "+subject,
		"--body", "Hello from posthorn.\n.a line with a leading dot\n", "--timeout", "30").CombinedOutput()
	if err != nil {
		t.Fatalf("swaks: %v\n%s\nserver A:\n%s", err, out, srvA.out)
	}

	// bob@b.test: in the second posthorn, over TLS.
	waitFor(t, 60*time.Second, "bob@b.test's INBOX", func() bool {
		out, _ := runAt(t, nil, filepath.Join(dirB, "data"), "message list", "bob@b.test")
		return strings.Contains(out, subject)
	}, srvA, srvB)
	// x@sink.test: at smtp-sink, dot-stuffing undone.
	var sunk string
	waitFor(t, 60*time.Second, "smtp-sink", func() bool {
		files, _ := filepath.Glob(filepath.Join(sinkDir, "*"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if strings.Contains(string(b), subject) {
				sunk = string(b)
				return true
			}
		}
		return false
	}, srvA, srvB)
	if !strings.Contains(sunk, "X-Rcpt-Args: <x@sink.test>") || !strings.Contains(sunk, "X-Helo-Args: mail.a.test") ||
		!strings.Contains(sunk, "\n.a line with a leading dot\n") || !strings.Contains(sunk, "X-Mail-Args: <alice@a.test>") {
		t.Errorf("smtp-sink received:\n%s", sunk)
	}
	if refstack != nil {
		waitFor(t, 60*time.Second, "the reference Postfix/Dovecot mailbox", func() bool {
			return imapHasSubject(t, refstack, subject)
		}, srvA, srvB)
	}
	// The queue empties, and two notifications (or one naming both) came
	// back to alice.
	waitFor(t, 60*time.Second, "an empty queue", func() bool {
		out, _ := runAt(t, nil, dataA, "queue summary")
		return strings.Contains(out, "messages: 0")
	}, srvA, srvB)
	if err := srvA.stop(syscall.SIGTERM); err != nil {
		t.Errorf("sender did not stop cleanly: %v", err)
	}
	if err := srvB.stop(syscall.SIGTERM); err != nil {
		t.Errorf("receiver did not stop cleanly: %v", err)
	}

	// B's copy came over TLS; alice's notifications name both failures.
	stB := openDataStore(t, filepath.Join(dirB, "data"))
	bodies := inboxBodies(t, stB, "bob@b.test")
	stB.Close()
	if len(bodies) != 1 || !strings.Contains(bodies[0], "with ESMTPS") || !strings.Contains(bodies[0], "from mail.a.test") {
		t.Errorf("bob@b.test got %d messages; the first:\n%s", len(bodies), strings.Join(bodies, "\n----\n"))
	}
	stA := openDataStore(t, dataA)
	all := strings.Join(inboxBodies(t, stA, "alice@a.test"), "\n")
	stA.Close()
	for _, want := range []string{
		"Final-Recipient: rfc822; nobody@b.test", "Status: 5.1.1", "Remote-MTA: dns; mx.b.test",
		"Final-Recipient: rfc822; y@nullmx.test", "Status: 5.1.10", "Subject: " + subject,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("alice's notifications lack %q:\n%s", want, all)
		}
	}
	for _, r := range []string{"bob@b.test", "x@sink.test"} {
		if strings.Contains(all, "Final-Recipient: rfc822; "+r) {
			t.Errorf("a notification for %s, which was delivered", r)
		}
	}
}

// startSmtpSink runs Postfix's smtp-sink on addr, dumping each message
// into a file of the directory it returns. As root it must drop to
// nobody, who needs a directory outside the test's private temp dir.
func startSmtpSink(t *testing.T, smtpSink, addr string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "posthorn-sink-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	t.Cleanup(func() { os.RemoveAll(dir) })
	var out syncbuf.Buffer
	sink := exec.Command(smtpSink, "-u", "nobody", "-d", dir+"/%M.", addr, "256")
	sink.Stdout, sink.Stderr = &out, &out
	if err := sink.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Process.Kill(); sink.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return dir
		}
		if time.Now().After(deadline) {
			t.Fatalf("smtp-sink not listening on %s: %v\n%s", addr, err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serveConfig is the start of a test server's configuration: its host
// name (and domain, the name without its first label), data directory,
// one listener and the test's DNS server. Tables follow.
func serveConfig(hostname, dataDir, role, listen, dnsServer string) string {
	domain := hostname[strings.IndexByte(hostname, '.')+1:]
	return fmt.Sprintf("hostname = %q\ndomains = [%q]\ndata_dir = %q\n[[listeners]]\nrole = %q\naddress = %q\n[dns]\nservers = [%q]\n",
		hostname, domain, dataDir, role, listen, dnsServer)
}

// serveConfigAt is serveConfig followed by the [store] table of
// dataDir's store (dataStoreTOML), for the tests that run on PostgreSQL
// too.
func serveConfigAt(t *testing.T, hostname, dataDir, role, listen, dnsServer string) string {
	t.Helper()
	return serveConfig(hostname, dataDir, role, listen, dnsServer) + dataStoreTOML(t, dataDir)
}

// waitFor polls cond every 100 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool, servers ...*devServer) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			var logs []string
			for _, s := range servers {
				logs = append(logs, s.out.String())
			}
			t.Fatalf("waited %v for %s\nserver output:\n%s", timeout, what, strings.Join(logs, "\n====\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func inboxBodies(t *testing.T, st store.Store, addr string) []string {
	t.Helper()
	ctx := context.Background()
	a, err := st.Account(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := st.Mailbox(ctx, a.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := st.Messages(ctx, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		b, err := st.MessageBody(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// readRefstack reads ../shared/refstack's target description when the
// reference Postfix runs (it is not part of CI: absent, that leg is left out).
func readRefstack() map[string]string {
	f, err := os.Open("/var/lib/refstack/target.env")
	if err != nil {
		return nil
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok && !strings.HasPrefix(k, "#") {
			m[k] = v
		}
	}
	if _, err := os.Stat("/var/lib/refstack/READY"); err != nil || m["USER2"] == "" {
		return nil
	}
	c, err := net.DialTimeout("tcp", net.JoinHostPort(m["HOST"], m["SMTP_PORT"]), time.Second)
	if err != nil {
		return nil
	}
	c.Close()
	return m
}

// imapHasSubject asks the reference Dovecot whether USER2's INBOX holds a
// message with subject, through Python's imaplib.
func imapHasSubject(t *testing.T, ref map[string]string, subject string) bool {
	t.Helper()
	py := tools.Look(t, "python3")
	script := `
import imaplib, sys
m = imaplib.IMAP4(sys.argv[1], int(sys.argv[2]))
m.login(sys.argv[3], sys.argv[4])
m.select("INBOX", readonly=True)
typ, data = m.search(None, "SUBJECT", '"' + sys.argv[5] + '"')
print("found" if data[0].split() else "none")
m.logout()
`
	out, err := exec.Command(py, "-c", script, ref["HOST"], ref["IMAP_PORT"], ref["USER2"], ref["PASS2"], subject).CombinedOutput()
	if err != nil {
		t.Logf("imaplib: %v\n%s", err, out)
		return false
	}
	return strings.TrimSpace(string(out)) == "found"
}
