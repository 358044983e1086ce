package queue

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/dkim"
	"github.com/posthorn/posthorn/internal/dkim/dkimtest"
	"github.com/posthorn/posthorn/internal/testutil/syncbuf"
)

func TestSignDomains(t *testing.T) {
	for host, want := range map[string][]string{
		"mx1.example.com":    {"mx1.example.com", "example.com"},
		"MX1.Example.COM.":   {"mx1.example.com", "example.com"},
		"example.com":        {"example.com"},
		"a.b.example.co.uk":  {"a.b.example.co.uk", "b.example.co.uk", "example.co.uk"},
		"mail.example.org":   {"mail.example.org", "example.org"},
		"alice.github.io":    {"alice.github.io"}, // github.io is a (private) public suffix
		"com":                nil,
		"co.uk":              nil,
		"github.io":          nil,
		"localhost":          nil, // a single label: the list's default rule makes it a suffix
		"":                   nil,
		"mx.unlisted-tld-zz": {"mx.unlisted-tld-zz"},
		"mail.bücher.de":     {"mail.xn--bcher-kva.de", "xn--bcher-kva.de"}, // A-labels, as d= is
	} {
		if got := signDomains(host); !slices.Equal(got, want) {
			t.Errorf("signDomains(%q) = %q, want %q", host, got, want)
		}
	}
}

// dirSigner is a DirSigner over a new key directory holding a key of
// each alg for every domain.
func dirSigner(t *testing.T, domains []string, algs ...dkim.Algorithm) (*dkim.DirSigner, dkim.KeyDir) {
	t.Helper()
	kd := dkim.KeyDir{Dir: filepath.Join(t.TempDir(), "dkim")}
	for _, d := range domains {
		for _, alg := range algs {
			if _, err := kd.Generate(d, "s-"+string(alg), alg); err != nil {
				t.Fatal(err)
			}
		}
	}
	s, err := dkim.NewDirSigner(kd, dkim.SignOptions{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return s, kd
}

var dkimDomain = regexp.MustCompile(`(?s)DKIM-Signature:.*?\bd=([^;\s]+)`)

// signedDomains returns the d= of every DKIM-Signature in msg's header.
func signedDomains(msg []byte) []string {
	hdr := header(msg)
	var out []string
	for _, m := range dkimDomain.FindAllSubmatch(hdr, -1) {
		out = append(out, string(m[1]))
	}
	return out
}

// The nearest domain with keys signs: the host's own before its parent;
// a key for a public suffix is never used, and a signer without a usable
// key leaves the message as it is and says so once.
func TestDSNSignerChoice(t *testing.T) {
	msg := []byte("From: Mail Delivery System <MAILER-DAEMON@mx1.example.co.uk>\r\nSubject: x\r\n\r\nbody\r\n")
	s, _ := dirSigner(t, []string{"mx1.example.co.uk", "example.co.uk"}, dkim.Ed25519)
	if got := signedDomains(newDSNSigner(s, "mx1.example.co.uk", slog.New(slog.DiscardHandler)).sign(msg)); !slices.Equal(got, []string{"mx1.example.co.uk"}) {
		t.Errorf("host and parent keyed: signed for %q, want the host", got)
	}
	s, _ = dirSigner(t, []string{"example.co.uk"}, dkim.Ed25519)
	if got := signedDomains(newDSNSigner(s, "mx1.example.co.uk", slog.New(slog.DiscardHandler)).sign(msg)); !slices.Equal(got, []string{"example.co.uk"}) {
		t.Errorf("parent keyed: signed for %q, want example.co.uk", got)
	}

	s, _ = dirSigner(t, []string{"co.uk", "uk", "other.co.uk"}, dkim.Ed25519)
	var buf syncbuf.Buffer
	ds := newDSNSigner(s, "mx1.example.co.uk", slog.New(slog.NewTextHandler(&buf, nil)))
	for range 3 {
		if got := ds.sign(msg); !bytes.Equal(got, msg) {
			t.Fatalf("signed with a public suffix's or a stranger's key:\n%s", got)
		}
	}
	if n := strings.Count(buf.String(), "notifications go unsigned"); n != 1 {
		t.Errorf("%d unsigned warnings for three notifications, want 1:\n%s", n, buf.String())
	}
	if got := newDSNSigner(nil, "mx1.example.co.uk", nil).sign(msg); !bytes.Equal(got, msg) {
		t.Errorf("nil signer changed the message")
	}
}

const dsnFrom = "From: Mail Delivery System <MAILER-DAEMON@mail.example.org>\r\n"

// fromFields returns msg's From fields, each ending in CRLF.
func fromFields(msg []byte) []string {
	var out []string
	for _, line := range strings.SplitAfter(string(header(msg)), "\r\n") {
		if strings.HasPrefix(strings.ToLower(line), "from:") {
			out = append(out, line)
		}
	}
	return out
}

// A bounce to a remote sender, as the receiving server got it on the
// second attempt, and one to a local sender, as stored in the INBOX, carry signatures by the host
// name's parent domain (mail.example.org → example.org), RSA and Ed25519,
// that dkimpy verifies, and fail after tampering; the From and the report
// are unchanged.
func TestDSNSigned(t *testing.T) {
	py := dkimtest.Python(t)
	signer, kd := dirSigner(t, []string{"example.org"}, dkim.RSA, dkim.Ed25519)
	tb := newTestbed(t, bedOptions{signer: signer})

	// The remote sender's host refuses the notification once (451), so
	// what arrives is the retry, read back from the queue: the stored copy
	// is the signed one.
	id := tb.enqueue(t, "temp1bob@elsewhere.test", []string{"reject@remote.test"}, testMessage("remote-sender"), false)
	tb.waitGone(t, id, 30*time.Second)
	id = tb.enqueue(t, "alice@example.org", []string{"reject@remote.test"}, testMessage("local-sender"), false)
	tb.waitGone(t, id, 30*time.Second)
	got := tb.mx2.Wait(t, 1, 30*time.Second)
	if len(got) != 1 || got[0].From != "" || got[0].To[0] != "temp1bob@elsewhere.test" {
		t.Fatalf("elsewhere received %+v", got)
	}
	remote := got[0].Data
	inbox := tb.inbox(t, tb.alice)
	if len(inbox) != 1 {
		t.Fatalf("%d notifications in alice's INBOX", len(inbox))
	}
	local, ok := bytes.CutPrefix(inbox[0], []byte("Return-Path: <>\r\n"))
	if !ok {
		t.Fatalf("local notification without the null Return-Path: %q", inbox[0][:60])
	}

	for name, msg := range map[string][]byte{"remote": remote, "local": local} {
		if d := signedDomains(msg); !slices.Equal(d, []string{"example.org", "example.org"}) {
			t.Errorf("%s: signatures for %q, want two for example.org", name, d)
		}
		if froms := fromFields(msg); !slices.Equal(froms, []string{dsnFrom}) {
			t.Errorf("%s: From fields %q, want %q", name, froms, dsnFrom)
		}
		if !bytes.HasPrefix(msg, []byte("DKIM-Signature:")) {
			t.Errorf("%s: the signatures are not on top:\n%s", name, header(msg))
		}
		r := readDSN(t, msg)
		if r.Reporting["Reporting-MTA"] != "dns; mail.example.org" || len(r.PerRcpt) != 1 ||
			r.PerRcpt[0]["Final-Recipient"] != "rfc822; reject@remote.test" || r.PerRcpt[0]["Status"] != "5.1.1" {
			t.Errorf("%s: report %+v", name, r)
		}
	}

	records := dkimtest.Records(t, kd)
	msgs := []string{string(remote), string(local),
		strings.Replace(string(remote), "could not be delivered", "was delivered", 1),
		strings.Replace(string(remote), dsnFrom, "From: Mail Delivery System <MAILER-DAEMON@evil.example>\r\n", 1),
	}
	want := [][]bool{{true, true}, {true, true}, {false, false}, {false, false}}
	verdicts := dkimtest.Verify(t, py, records, msgs)
	for i, name := range []string{"remote", "local", "tampered body", "tampered From"} {
		if !slices.Equal(verdicts[i], want[i]) {
			t.Errorf("%s: dkimpy verdicts %v, want %v", name, verdicts[i], want[i])
		}
	}
}

// Without a key for the host name's domain or its parents (only one for
// the public suffix "org" and for a stranger) a bounce is still sent,
// unsigned, and the log says so once.
func TestDSNUnsignedWithoutKey(t *testing.T) {
	signer, _ := dirSigner(t, []string{"org", "elsewhere.test"}, dkim.Ed25519)
	var buf syncbuf.Buffer
	tb := newTestbed(t, bedOptions{signer: signer, logger: slog.New(slog.NewTextHandler(&buf, nil))})
	for _, subject := range []string{"first", "second"} {
		id := tb.enqueue(t, "bob@elsewhere.test", []string{"reject@remote.test"}, testMessage(subject), false)
		tb.waitGone(t, id, 30*time.Second)
	}
	got := tb.mx2.Wait(t, 2, 30*time.Second)
	for _, m := range got {
		if m.From != "" || m.To[0] != "bob@elsewhere.test" || !bytes.HasPrefix(m.Data, []byte(dsnFrom)) {
			t.Errorf("notification %q to %q begins %q", m.From, m.To, m.Data[:min(len(m.Data), 80)])
		}
		if bytes.Contains(header(m.Data), []byte("DKIM-Signature")) {
			t.Errorf("signed without a key of ours:\n%s", header(m.Data))
		}
	}
	if n := strings.Count(buf.String(), "notifications go unsigned"); n != 1 {
		t.Errorf("%d unsigned warnings for two notifications, want 1", n)
	}
}
