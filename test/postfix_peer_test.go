package test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/certs/certstest"
	"github.com/posthorn/posthorn/internal/delivery/deliverytest"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// postfixMasterCF is a private Postfix instance's master.cf: one smtpd on
// the test's address and the daemons that deliver into virtual mailboxes
// and answer bounces. Nothing chrooted, so it runs from a temp directory.
const postfixMasterCF = `%s inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
local     unix  - n n - - local
virtual   unix  - n n - - virtual
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
`

// startPostfix runs a private Postfix instance on addr that accepts mail
// for bob@DOMAIN into a Maildir (whose path it returns), offers STARTTLS
// with the given certificate, and refuses every other recipient with
// 550 5.1.1. It needs root (Postfix's master starts as root).
func startPostfix(t *testing.T, addr, domain, certFile, keyFile string) string {
	t.Helper()
	tools.Look(t, "postfix")
	if os.Geteuid() != 0 {
		if tools.CI() {
			t.Fatal("a private Postfix instance needs root, and CI=true")
		}
		t.Skip("a private Postfix instance needs root")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "posthorn-postfix-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, d := range []string{"spool", "data", "mail"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%q: %v\n%s", args, err, out)
		}
	}
	run("chown", "postfix", filepath.Join(dir, "data"))
	run("chown", nobody.Uid+":"+nobody.Gid, filepath.Join(dir, "mail"))
	mainCF := fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/spool
data_directory = %[1]s/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = all
inet_protocols = ipv4
myhostname = mx.%[2]s
mydomain = %[2]s
mydestination =
mynetworks =
virtual_mailbox_domains = %[2]s
virtual_mailbox_maps = inline:{ bob@%[2]s=bob/ }
virtual_mailbox_base = %[1]s/mail
virtual_uid_maps = static:%[3]s
virtual_gid_maps = static:%[4]s
virtual_minimum_uid = 1
alias_maps =
smtpd_tls_security_level = may
smtpd_tls_cert_file = %[5]s
smtpd_tls_key_file = %[6]s
smtpd_tls_received_header = yes
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
maillog_file_prefixes = %[1]s
maillog_file = %[1]s/postfix.log
syslog_name = posthorn-test
`, dir, domain, nobody.Uid, nobody.Gid, certFile, keyFile)
	if err := os.WriteFile(filepath.Join(dir, "main.cf"), []byte(mainCF), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "master.cf"), []byte(fmt.Sprintf(postfixMasterCF, addr)), 0o644); err != nil {
		t.Fatal(err)
	}
	exec.Command("postfix", "-c", dir, "set-permissions").Run() // best effort, as Debian's own scripts
	run("postfix", "-c", dir, "start")
	t.Cleanup(func() {
		exec.Command("postfix", "-c", dir, "stop").Run()
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "postfix.log"))
			t.Logf("postfix.log:\n%s", log)
		}
	})
	waitFor(t, 30*time.Second, "Postfix listening on "+addr, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return filepath.Join(dir, "mail", "bob")
}

// TestOutboundToPostfix: posthorn delivers to a real Postfix found by its
// MX record, over STARTTLS, DKIM-signed; Postfix's 550 for an unknown
// recipient comes back to the sender as a delivery status notification.
func TestOutboundToPostfix(t *testing.T) {
	swaks := tools.Look(t, "swaks")
	n := newOutboundNet(t) // a: posthorn, b: Postfix
	root := t.TempDir()
	zones := dnstest.Start(t, dnstest.Zone{Origin: "pf.test", Records: "@ MX 10 mx\nmx A " + n.b})
	pfTLS := certstest.Dev(t, filepath.Join(root, "pftls"), []string{"mx.pf.test"})
	maildir := startPostfix(t, fmt.Sprintf("%s:%d", n.b, n.port), "pf.test", pfTLS.CertFile, pfTLS.KeyFile)

	dataA := filepath.Join(root, "a", "data")
	addAccount(t, dataA, "alice@a.test", "alice-passw0rd")
	if out, err := runAt(t, nil, dataA, "dkim keygen", "a.test"); err != nil {
		t.Fatalf("dkim keygen: %v\n%s", err, out)
	}
	tlsA := certstest.Dev(t, filepath.Join(root, "a", "tls"), []string{"mail.a.test"})
	subPort := deliverytest.FreePort(t, n.a)
	cfgA := serveConfigAt(t, "mail.a.test", dataA, "submission", fmt.Sprintf("%s:%d", n.a, subPort), zones.Addr()) +
		fmt.Sprintf("[tls]\ncert_file = %q\nkey_file = %q\n[delivery]\nport = %d\nretry_min = \"1s\"\nretry_max = \"2s\"\n",
			tlsA.CertFile, tlsA.KeyFile, n.port)
	srvA := startServe(t, filepath.Join(root, "a"), cfgA, fmt.Sprintf("%s:%d", n.a, subPort))

	subject := fmt.Sprintf("to postfix %d", time.Now().UnixNano())
	out, err := exec.Command(swaks, "--server", fmt.Sprintf("%s:%d", n.a, subPort), "--tls", "--tls-verify", "--tls-ca-path", tlsA.CAFile,
		"--auth", "PLAIN", "--auth-user", "alice@a.test", "--auth-password", "alice-passw0rd",
		"--from", "alice@a.test", "--to", "bob@pf.test,nobody@pf.test", "--header", "Subject: "+subject,
		"--body", "Hello Postfix.\n.a line with a leading dot\n", "--timeout", "30").CombinedOutput()
	if err != nil {
		t.Fatalf("swaks: %v\n%s\nposthorn:\n%s", err, out, srvA.out)
	}

	var got string
	waitFor(t, 60*time.Second, "the message in Postfix's Maildir", func() bool {
		files, _ := filepath.Glob(filepath.Join(maildir, "new", "*"))
		for _, f := range files {
			if b, _ := os.ReadFile(f); strings.Contains(string(b), subject) {
				got = string(b)
				return true
			}
		}
		return false
	}, srvA)
	for _, want := range []string{
		"from mail.a.test", "(using TLSv1.", // Postfix's Received: STARTTLS was used
		"DKIM-Signature: a=ed25519-sha256;", "DKIM-Signature: a=rsa-sha256;", "d=a.test;",
		"\n.a line with a leading dot\n", // dot-stuffing undone at the far end
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Postfix stored no %q:\n%s", want, got)
		}
	}

	waitFor(t, 60*time.Second, "an empty queue", func() bool {
		out, _ := runAt(t, nil, dataA, "queue summary")
		return strings.Contains(out, "messages: 0")
	}, srvA)
	if err := srvA.stop(syscall.SIGTERM); err != nil {
		t.Errorf("posthorn did not stop cleanly: %v", err)
	}
	st := openDataStore(t, dataA)
	defer st.Close()
	dsn := strings.Join(inboxBodies(t, st, "alice@a.test"), "\n")
	for _, want := range []string{
		"Final-Recipient: rfc822; nobody@pf.test", "Status: 5.1.1", "Remote-MTA: dns; mx.pf.test", "Subject: " + subject,
	} {
		if !strings.Contains(dsn, want) {
			t.Errorf("alice's notification lacks %q:\n%s", want, dsn)
		}
	}
	if strings.Contains(dsn, "Final-Recipient: rfc822; bob@pf.test") {
		t.Errorf("a notification for bob@pf.test, which Postfix accepted")
	}
}
