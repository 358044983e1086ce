package mx

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/dkim"
	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/internal/greylist"
	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// checkWorld is the test's own DNS: senders with SPF, DKIM and DMARC
// records, and a blocklist.
type checkWorld struct {
	dns    *dnstest.Server
	zones  []dnstest.Zone // what dns serves
	signer *dkim.Signer
	rsaPEM []byte // the RSA key of good.test, for python3-dkim
}

func newCheckWorld(t testing.TB) *checkWorld {
	t.Helper()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys := []dkim.Key{
		{Domain: "good.test", Selector: "rsa", Signer: rsaKey},
		{Domain: "good.test", Selector: "ed", Signer: edKey},
		{Domain: "reject.test", Selector: "s1", Signer: edKey},
		{Domain: "other.test", Selector: "s1", Signer: edKey},
		{Domain: "lists.test", Selector: "s1", Signer: rsaKey},
	}
	signer, err := dkim.NewSigner(keys, dkim.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	zone := func(origin, records string) dnstest.Zone {
		for _, k := range keys {
			if k.Domain == origin {
				rec, err := dkim.Record(k.Signer.Public())
				if err != nil {
					t.Fatal(err)
				}
				records += dkim.ZoneEntry(k.Selector, k.Domain, rec) + "\n"
			}
		}
		return dnstest.Zone{Origin: origin, Records: records}
	}
	der, err := x509.MarshalPKCS8PrivateKey(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	w := &checkWorld{signer: signer, rsaPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})}
	w.zones = []dnstest.Zone{
		zone("good.test", `@ TXT "v=spf1 ip4:127.0.0.0/8 -all"`+"\n"+`_dmarc TXT "v=DMARC1; p=reject"`+"\n"),
		zone("reject.test", `@ TXT "v=spf1 -all"`+"\n"+`_dmarc TXT "v=DMARC1; p=reject; sp=quarantine"`+"\n"+`sub TXT "v=spf1 -all"`+"\n"),
		zone("quar.test", `@ TXT "v=spf1 -all"`+"\n"+`_dmarc TXT "v=DMARC1; p=quarantine"`+"\n"),
		zone("other.test", `@ TXT "v=spf1 ?all"`+"\n"),
		zone("lists.test", ""),
		zone("flaky.test", `@ TXT "v=spf1 -all"`+"\n"),
		dnstest.Zone{Origin: "0.0.127.in-addr.arpa", Records: "1 PTR client.good.test.\n"},
		dnstest.Zone{Origin: "client.good.test", Records: "@ A 127.0.0.1\n"},
		dnstest.Zone{Origin: "bl.test", Records: "1.0.0.127 A 127.0.0.2\n"},
		dnstest.Zone{Origin: "clean.test", Records: "@ A 127.0.0.1\n"}, // a blocklist not listing us
	}
	w.dns = dnstest.Start(t, w.zones...)
	w.dns.SetZone(t, dnstest.Zone{Origin: "flaky.test", Records: `@ TXT "v=spf1 -all"` + "\n", ServFail: []string{"_dmarc"}})
	return w
}

func (w *checkWorld) checks(t testing.TB) *Checks {
	t.Helper()
	r, err := dns.New(dns.Config{Servers: []string{w.dns.Addr()}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return &Checks{Resolver: r, EnforceDMARC: true, Timeout: testTimeout}
}

func (w *checkWorld) sign(t testing.TB, domain, msg string) string {
	t.Helper()
	h, err := w.signer.Sign(domain, strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	return h + msg
}

func message(from string) string {
	return "From: <" + from + ">\r\nTo: <alice@example.test>\r\nSubject: checks\r\nMessage-ID: <1@x>\r\n\r\nHello.\r\n"
}

// sendRaw runs one transaction and returns the reply to the end of data.
func sendRaw(e *env, mailFrom, body string) string {
	c := e.dialRaw()
	c.Write("EHLO client.good.test\r\n")
	c.ExpectReply("250 ")
	c.Write("MAIL FROM:<" + mailFrom + ">\r\n")
	c.ExpectReply("250 ")
	c.Write("RCPT TO:<alice@example.test>\r\n")
	c.ExpectReply("250 ")
	c.Write("DATA\r\n")
	c.ExpectReply("354 ")
	c.Write(body + ".\r\n")
	line := c.ExpectReply("")
	c.Write("QUIT\r\n")
	return line
}

// TestReceivedName: the forward-confirmed reverse name goes into the
// Received field's TCP-info (RFC 5321 §4.4).
func TestReceivedName(t *testing.T) {
	t.Parallel()
	w := newCheckWorld(t)
	e := newEnv(t, envOpts{checks: w.checks(t)})
	if reply := sendRaw(e, "bounce@good.test", w.sign(t, "good.test", message("a@good.test"))); !strings.HasPrefix(reply, "250 ") {
		t.Fatalf("reply %q", reply)
	}
	if got := e.inbox("alice@example.test")[0]; !strings.Contains(got, "\r\nReceived: from client.good.test (client.good.test [127.0.0.1])\r\n") {
		t.Errorf("stored\n%s", got)
	}
}

// authResults returns the Authentication-Results field of a stored
// message, unfolded.
func authResults(t *testing.T, stored string) string {
	t.Helper()
	i := strings.Index(stored, "Authentication-Results: mx.example.test;")
	if i < 0 {
		t.Fatalf("no Authentication-Results in\n%s", stored)
	}
	end := strings.Index(stored[i:], "\r\nReceived: ")
	return strings.ReplaceAll(stored[i:i+end], "\r\n\t", " ")
}

func TestChecksVerdicts(t *testing.T) {
	t.Parallel()
	w := newCheckWorld(t)
	e := newEnv(t, envOpts{checks: w.checks(t)})
	for _, tc := range []struct {
		name     string
		mailFrom string
		body     string
		reply    string   // prefix of the reply to the end of data
		mailbox  string   // where it lands; "" nowhere
		ar       []string // parts the Authentication-Results field must have
	}{
		{"SPF and DKIM pass (RSA and Ed25519)", "bounce@good.test", w.sign(t, "good.test", message("a@good.test")), "250 ", "INBOX",
			[]string{"iprev=pass policy.iprev=127.0.0.1", "spf=pass smtp.mailfrom=bounce@good.test", "spf=none smtp.helo=client.good.test", "arc=none",
				"dkim=pass header.d=good.test header.i=@good.test header.s=rsa", "dkim=pass header.d=good.test header.i=@good.test header.s=ed", "dmarc=pass header.from=good.test"}},
		{"DMARC reject", "x@reject.test", message("x@reject.test"), "550 5.7.1 ", "",
			nil},
		{"aligned DKIM rescues SPF fail", "x@reject.test", w.sign(t, "reject.test", message("x@reject.test")), "250 ", "INBOX",
			[]string{"spf=fail smtp.mailfrom=x@reject.test", "dkim=pass header.d=reject.test", "dmarc=pass header.from=reject.test"}},
		{"tampered body fails", "x@reject.test", strings.Replace(w.sign(t, "reject.test", message("x@reject.test")), "Hello.", "Hullo.", 1), "550 5.7.1 ", "", nil},
		{"unaligned DKIM does not rescue", "x@reject.test", w.sign(t, "other.test", message("x@reject.test")), "550 5.7.1 ", "", nil},
		{"quarantine", "x@quar.test", message("x@quar.test"), "250 ", "Junk",
			[]string{"spf=fail smtp.mailfrom=x@quar.test", "dkim=none", "dmarc=fail header.from=quar.test"}},
		{"subdomain policy sp", "x@sub.reject.test", message("x@sub.reject.test"), "250 ", "Junk",
			[]string{"spf=fail smtp.mailfrom=x@sub.reject.test", "dmarc=fail header.from=sub.reject.test"}},
		{"DMARC temperror accepted", "x@flaky.test", message("x@flaky.test"), "250 ", "INBOX",
			[]string{"spf=fail smtp.mailfrom=x@flaky.test", "dmarc=temperror header.from=flaky.test"}},
		{"two From fields", "bounce@good.test", w.sign(t, "good.test", "From: <a@good.test>\r\n"+message("x@reject.test")), "550 5.7.1 ", "", nil},
		{"too many From domains", "bounce@good.test", strings.Replace(message("a@good.test"), "From: <a@good.test>", "From: a@a.test, b@b.test, c@c.test, d@d.test, e@e.test, f@f.test", 1), "550 5.7.1 ", "", nil},
		{"no policy", "x@other.test", message("x@nowhere.test"), "250 ", "INBOX",
			[]string{"spf=neutral smtp.mailfrom=x@other.test", "dmarc=none header.from=nowhere.test"}},
		// The null sender's identity is postmaster@HELO (no SPF here), so
		// an unsigned From: good.test fails its p=reject.
		{"null sender: HELO identity", "", message("x@good.test"), "550 5.7.1 ", "", nil},
		{"null sender with aligned DKIM", "", w.sign(t, "good.test", message("x@good.test")), "250 ", "INBOX",
			[]string{"spf=none smtp.mailfrom=postmaster@client.good.test", "dkim=pass header.d=good.test", "dmarc=pass header.from=good.test"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := map[string]int{"INBOX": len(e.mailbox("alice@example.test", "INBOX")), "Junk": len(e.mailbox("alice@example.test", "Junk"))}
			reply := sendRaw(e, tc.mailFrom, tc.body)
			if !strings.HasPrefix(reply, tc.reply) {
				t.Fatalf("reply %q, want %q", reply, tc.reply)
			}
			for _, mb := range []string{"INBOX", "Junk"} {
				got := e.mailbox("alice@example.test", mb)
				want := before[mb]
				if mb == tc.mailbox {
					want++
				}
				if len(got) != want {
					t.Fatalf("%s has %d messages, want %d", mb, len(got), want)
				}
				if mb == tc.mailbox {
					ar := authResults(t, got[len(got)-1])
					for _, part := range tc.ar {
						if !strings.Contains(ar, part) {
							t.Errorf("Authentication-Results lacks %q:\n%s", part, ar)
						}
					}
				}
			}
		})
	}
}

// TestForgedAuthResultsRemoved: a field claiming our authserv-id is gone,
// one of another server stays, ours comes first after Return-Path.
func TestForgedAuthResultsRemoved(t *testing.T) {
	t.Parallel()
	w := newCheckWorld(t)
	e := newEnv(t, envOpts{checks: w.checks(t)})
	body := "Authentication-Results: mx.example.test; dmarc=pass header.from=bank.test\r\n" +
		"Authentication-Results: other.example; spf=pass\r\n" +
		"AUTHENTICATION-RESULTS: (sneaky) MX.EXAMPLE.TEST;\r\n dkim=pass\r\n" + message("x@other.test")
	if reply := sendRaw(e, "x@other.test", body); !strings.HasPrefix(reply, "250 ") {
		t.Fatalf("reply %q", reply)
	}
	got := e.inbox("alice@example.test")[0]
	if n := strings.Count(strings.ToLower(got), "authentication-results: mx.example.test"); n != 1 {
		t.Errorf("%d fields with our id:\n%s", n, got)
	}
	if strings.Contains(got, "bank.test") || strings.Contains(got, "sneaky") {
		t.Errorf("forged field kept:\n%s", got)
	}
	if !strings.Contains(got, "Authentication-Results: other.example; spf=pass\r\n") {
		t.Errorf("other server's field removed:\n%s", got)
	}
	if !strings.HasPrefix(got, "Return-Path: <x@other.test>\r\nAuthentication-Results: mx.example.test;\r\n") {
		t.Errorf("stored message starts\n%s", got[:200])
	}
}

func TestDNSBL(t *testing.T) {
	t.Parallel()
	w := newCheckWorld(t)
	t.Run("reject", func(t *testing.T) {
		c := w.checks(t)
		c.DNSBL, c.DNSBLReject = []string{"clean.test", "bl.test"}, true
		e := newEnv(t, envOpts{checks: c})
		r := e.dialRaw()
		r.Write("EHLO client.good.test\r\nMAIL FROM:<bounce@good.test>\r\n")
		r.ExpectReply("250 ")
		r.ExpectReply("554 5.7.1 ")
		// The verdict holds for the rest of the session.
		r.Write("MAIL FROM:<other@good.test>\r\n")
		r.ExpectReply("554 5.7.1 ")
	})
	t.Run("header", func(t *testing.T) {
		c := w.checks(t)
		c.DNSBL = []string{"bl.test"}
		e := newEnv(t, envOpts{checks: c})
		if reply := sendRaw(e, "bounce@good.test", w.sign(t, "good.test", message("a@good.test"))); !strings.HasPrefix(reply, "250 ") {
			t.Fatalf("reply %q", reply)
		}
		if got := e.inbox("alice@example.test")[0]; !strings.Contains(got, "\r\nX-Posthorn-DNSBL: bl.test\r\n") {
			t.Errorf("no DNSBL header:\n%s", got)
		}
	})
}

// TestTrustedNetwork: a trusted client is not looked up (no queries) and
// its mail says "none".
func TestTrustedNetwork(t *testing.T) {
	t.Parallel()
	w := newCheckWorld(t)
	c := w.checks(t)
	c.TrustedNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	e := newEnv(t, envOpts{checks: c})
	if reply := sendRaw(e, "x@reject.test", message("x@reject.test")); !strings.HasPrefix(reply, "250 ") {
		t.Fatalf("reply %q", reply)
	}
	if got := e.inbox("alice@example.test")[0]; !strings.Contains(got, "Authentication-Results: mx.example.test; none\r\n") {
		t.Errorf("stored\n%s", got)
	}
	if n := w.dns.Queries("_dmarc.reject.test", "TXT"); n != 0 {
		t.Errorf("%d DMARC queries for a trusted client", n)
	}
}

// TestPythonSigned: a message signed by python3-dkim (dkimpy, an
// independent implementation) verifies end to end.
func TestPythonSigned(t *testing.T) {
	t.Parallel()
	py := tools.Python(t, "dkim", "authres")
	w := newCheckWorld(t)
	e := newEnv(t, envOpts{checks: w.checks(t)})
	dir := t.TempDir()
	msgFile, keyFile := filepath.Join(dir, "msg"), filepath.Join(dir, "key")
	os.WriteFile(msgFile, []byte(message("a@good.test")), 0o600)
	os.WriteFile(keyFile, w.rsaPEM, 0o600)
	out, err := exec.Command(py, "-c", `
import dkim, sys
msg = open(sys.argv[1], 'rb').read()
sig = dkim.sign(msg, b'rsa', b'good.test', open(sys.argv[2], 'rb').read(), include_headers=[b'from', b'to', b'subject'])
sys.stdout.buffer.write(sig + msg)
`, msgFile, keyFile).Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	if reply := sendRaw(e, "bounce@good.test", string(out)); !strings.HasPrefix(reply, "250 ") {
		t.Fatalf("reply %q", reply)
	}
	ar := authResults(t, e.inbox("alice@example.test")[0])
	if !strings.Contains(ar, "dkim=pass header.d=good.test") || !strings.Contains(ar, "dmarc=pass") {
		t.Errorf("Authentication-Results: %s", ar)
	}
}

// TestTrustedSealer: a mailing list (lists.test) relays a message whose
// From domain publishes p=reject; the relay breaks SPF and there is no
// DKIM, so DMARC fails. The list's ARC seal (by dkimpy) passes; with
// lists.test as a trusted sealer the message is delivered, without it
// refused.
func TestTrustedSealer(t *testing.T) {
	t.Parallel()
	py := tools.Python(t, "dkim", "authres")
	w := newCheckWorld(t)
	dir := t.TempDir()
	msgFile, keyFile := filepath.Join(dir, "msg"), filepath.Join(dir, "key")
	os.WriteFile(msgFile, []byte(message("x@reject.test")), 0o600)
	os.WriteFile(keyFile, w.rsaPEM, 0o600)
	out, err := exec.Command(py, "-c", `
import dkim, sys
msg = b'Authentication-Results: lists.test; spf=pass smtp.mailfrom=x@reject.test\r\n' + open(sys.argv[1], 'rb').read()
sets = dkim.arc_sign(msg, b's1', b'lists.test', open(sys.argv[2], 'rb').read(), b'lists.test')
sys.stdout.buffer.write(b''.join(sets) + msg)
`, msgFile, keyFile).Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	sealed := string(out)

	e := newEnv(t, envOpts{checks: w.checks(t)})
	if reply := sendRaw(e, "list-bounces@reject.test", sealed); !strings.HasPrefix(reply, "550 5.7.1 ") {
		t.Errorf("untrusted sealer: reply %q, want 550", reply)
	}
	c := w.checks(t)
	c.TrustedSealers = []string{"lists.test"}
	e = newEnv(t, envOpts{checks: c})
	if reply := sendRaw(e, "list-bounces@reject.test", sealed); !strings.HasPrefix(reply, "250 ") {
		t.Fatalf("trusted sealer: reply %q", reply)
	}
	ar := authResults(t, e.inbox("alice@example.test")[0])
	for _, part := range []string{"arc=pass", "dmarc=fail header.from=reject.test"} {
		if !strings.Contains(ar, part) {
			t.Errorf("Authentication-Results lacks %q: %s", part, ar)
		}
	}
}

// TestGreylisting: the first RCPT of a new triplet gets 451 4.7.1 (and
// nothing is stored), the retry after the delay is accepted; an
// allowlisted sender domain is never delayed.
func TestGreylisting(t *testing.T) {
	t.Parallel()
	w := newCheckWorld(t)
	now := time.Unix(1_800_000_000, 0)
	gl, err := greylist.Open(greylist.Options{Path: filepath.Join(t.TempDir(), "greylist"), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gl.Close() })
	c := w.checks(t)
	c.Greylist, c.GreylistAllowDomains = gl, []string{"other.test"}
	e := newEnv(t, envOpts{checks: c})
	body := w.sign(t, "good.test", message("a@good.test"))
	greylisted := func() {
		t.Helper()
		r := e.dialRaw()
		r.Write("EHLO client.good.test\r\nMAIL FROM:<bounce@good.test>\r\nRCPT TO:<alice@example.test>\r\n")
		r.ExpectReply("250 ")
		r.ExpectReply("250 ")
		r.ExpectReply("451 4.7.1 ")
		r.Write("QUIT\r\n")
	}
	greylisted()
	if got := e.inbox("alice@example.test"); len(got) != 0 {
		t.Fatalf("stored %d messages", len(got))
	}
	// An allowlisted sender domain, while the client's network is still
	// unknown.
	if reply := sendRaw(e, "x@other.test", message("x@other.test")); !strings.HasPrefix(reply, "250 ") {
		t.Fatalf("allowlisted domain: %q", reply)
	}
	// A retry that comes too early.
	now = now.Add(time.Minute)
	greylisted()
	now = now.Add(5 * time.Minute)
	if reply := sendRaw(e, "bounce@good.test", body); !strings.HasPrefix(reply, "250 ") {
		t.Fatalf("retry after the delay: %q", reply)
	}
}
