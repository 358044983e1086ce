package test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// imapTarget is an IMAP server (implicit TLS) a client scenario runs against.
type imapTarget struct {
	addr       string
	tls        *tls.Config
	user, pass string
}

// devIMAPTarget returns dev mode's imaps listener with alice's login.
func devIMAPTarget(t *testing.T, s *devServer) imapTarget {
	t.Helper()
	if s.info.Ports["imaps"] == 0 {
		t.Fatalf("dev.json has no imaps port: %v", s.info.Ports)
	}
	return imapTarget{
		addr: net.JoinHostPort(s.info.Host, itoa(s.info.Ports["imaps"])),
		tls:  tlsConfigFor(t, s.info.CAFile, s.info.Host),
		user: s.info.Accounts[0].Address, pass: s.info.Accounts[0].Password,
	}
}

func tlsConfigFor(t *testing.T, caFile, serverName string) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", caFile)
	}
	return &tls.Config{RootCAs: pool, ServerName: serverName}
}

// TestDevModeGoIMAP drives dev mode's IMAP server with go-imap v2's client,
// an implementation independent of ours: APPEND, SELECT, FETCH of envelope,
// body structure and sections, STORE, UID SEARCH, IDLE, UID EXPUNGE.
func TestDevModeGoIMAP(t *testing.T) {
	withDev(t, func(s *devServer) { goIMAPScenario(t, devIMAPTarget(t, s)) })
}

// TestRefstackGoIMAP runs the same scenario against Dovecot from
// shared/refstack when IMAPQA_REFSTACK=1: it proves the scenario's
// expectations on an established server. Not part of CI.
func TestRefstackGoIMAP(t *testing.T) {
	if os.Getenv("IMAPQA_REFSTACK") != "1" {
		t.Skip("set IMAPQA_REFSTACK=1 to run against the reference stack")
	}
	goIMAPScenario(t, imapTarget{
		addr: "127.0.0.1:2993", tls: tlsConfigFor(t, "/var/lib/refstack/tls/ca.crt", "127.0.0.1"),
		user: "bob@example.test", pass: "bob-Pw-9q4m8",
	})
}

const goIMAPAttachment = "\x00\x01binary\xff\xfe attachment\r\n"

func goIMAPMessage(tag string) []byte {
	return []byte("From: Grace Gray <grace@example.org>\r\n" +
		"To: alice@example.test\r\n" +
		"Subject: go-imap " + tag + "\r\n" +
		"Date: Mon, 05 Feb 2024 08:00:00 +0000\r\n" +
		"Message-ID: <" + tag + "@example.org>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b1\r\n" +
		"\r\n" +
		"--b1\r\n" +
		"Content-Type: text/plain; charset=us-ascii\r\n" +
		"\r\n" +
		"The narwhal text part.\r\n" +
		"--b1\r\n" +
		"Content-Type: application/octet-stream\r\n" +
		"Content-Transfer-Encoding: base64\r\n" +
		"\r\n" +
		"AAFiaW5hcnn//iBhdHRhY2htZW50DQo=\r\n" +
		"--b1--\r\n")
}

func goIMAPScenario(t *testing.T, tg imapTarget) {
	existsCh := make(chan uint32, 16)
	expungeCh := make(chan uint32, 16)
	opts := &imapclient.Options{
		TLSConfig: tg.tls,
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					existsCh <- *d.NumMessages
				}
			},
			Expunge: func(seq uint32) { expungeCh <- seq },
		},
	}
	c, err := imapclient.DialTLS(tg.addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(tg.user, tg.pass).Wait(); err != nil {
		t.Fatalf("LOGIN: %v", err)
	}
	tag := fmt.Sprintf("goimap-%06d", rand.IntN(1000000))
	box := "QA " + tag // a name with a space: quoted on the wire
	if err := c.Create(box, nil).Wait(); err != nil {
		t.Fatalf("CREATE: %v", err)
	}
	defer func() {
		c.Unselect().Wait()
		if err := c.Delete(box).Wait(); err != nil {
			t.Errorf("DELETE: %v", err)
		}
		c.Logout().Wait()
	}()

	msg := goIMAPMessage(tag)
	app := c.Append(box, int64(len(msg)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}})
	app.Write(msg)
	app.Close()
	ad, err := app.Wait()
	if err != nil {
		t.Fatalf("APPEND: %v", err)
	}
	if ad.UID == 0 || ad.UIDValidity == 0 {
		t.Errorf("APPEND gave no APPENDUID: %+v", ad)
	}

	sel, err := c.Select(box, nil).Wait()
	if err != nil {
		t.Fatalf("SELECT: %v", err)
	}
	if sel.NumMessages != 1 || sel.UIDValidity != ad.UIDValidity || sel.UIDNext <= ad.UID {
		t.Errorf("SELECT = %d messages, UIDVALIDITY %d, UIDNEXT %d; APPENDUID %d %d",
			sel.NumMessages, sel.UIDValidity, sel.UIDNext, ad.UIDValidity, ad.UID)
	}

	whole := &imap.FetchItemBodySection{Peek: true}
	part1 := &imap.FetchItemBodySection{Part: []int{1}, Peek: true}
	hdr := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
	fo := &imap.FetchOptions{
		UID: true, Flags: true, Envelope: true, RFC822Size: true, InternalDate: true,
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
		BodySection:   []*imap.FetchItemBodySection{whole, part1, hdr},
	}
	bin := &imap.FetchItemBinarySection{Part: []int{2}, Peek: true}
	if c.Caps().Has(imap.CapBinary) || c.Caps().Has(imap.CapIMAP4rev2) {
		fo.BinarySection = []*imap.FetchItemBinarySection{bin}
	}
	msgs, err := c.Fetch(imap.UIDSetNum(ad.UID), fo).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("FETCH: %v, %d messages", err, len(msgs))
	}
	m := msgs[0]
	if m.UID != ad.UID || m.RFC822Size != int64(len(msg)) {
		t.Errorf("FETCH UID %d RFC822.SIZE %d, want %d %d", m.UID, m.RFC822Size, ad.UID, len(msg))
	}
	if !bytes.Equal(m.FindBodySection(whole), msg) {
		t.Errorf("BODY[] = %q\nwant %q", m.FindBodySection(whole), msg)
	}
	if got := string(m.FindBodySection(part1)); got != "The narwhal text part." {
		t.Errorf("BODY[1] = %q", got)
	}
	if got := m.FindBodySection(hdr); !bytes.HasPrefix(msg, got) || !bytes.HasSuffix(got, []byte("\r\n\r\n")) {
		t.Errorf("BODY[HEADER] = %q", got)
	}
	if fo.BinarySection != nil {
		if got := string(m.FindBinarySection(bin)); got != goIMAPAttachment {
			t.Errorf("BINARY[2] = %q, want %q", got, goIMAPAttachment)
		}
	}
	if e := m.Envelope; e == nil || e.Subject != "go-imap "+tag || len(e.From) != 1 ||
		e.From[0].Name != "Grace Gray" || e.From[0].Addr() != "grace@example.org" ||
		e.MessageID != tag+"@example.org" || !e.Date.Equal(time.Date(2024, 2, 5, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("ENVELOPE = %+v", m.Envelope)
	}
	mp, ok := m.BodyStructure.(*imap.BodyStructureMultiPart)
	if !ok || !strings.EqualFold(mp.Subtype, "mixed") || len(mp.Children) != 2 {
		t.Fatalf("BODYSTRUCTURE = %#v", m.BodyStructure)
	}
	if sp, ok := mp.Children[0].(*imap.BodyStructureSinglePart); !ok || !strings.EqualFold(sp.Type, "text") ||
		sp.Size != uint32(len("The narwhal text part.")) {
		t.Errorf("part 1 = %#v", mp.Children[0])
	}
	if sp, ok := mp.Children[1].(*imap.BodyStructureSinglePart); !ok || !strings.EqualFold(sp.Encoding, "base64") {
		t.Errorf("part 2 = %#v", mp.Children[1])
	}
	if mp.Extended == nil || mp.Extended.Params["boundary"] != "b1" {
		t.Errorf("multipart extension data = %+v", mp.Extended)
	}
	if f := withoutRecent(m.Flags); len(f) != 1 || f[0] != imap.FlagSeen {
		t.Errorf("FLAGS = %v, want [\\Seen]", m.Flags)
	}

	stored, err := c.Store(imap.UIDSetNum(ad.UID), &imap.StoreFlags{
		Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged, "$Work"},
	}, nil).Collect()
	if err != nil || len(stored) != 1 || len(withoutRecent(stored[0].Flags)) != 3 {
		t.Fatalf("STORE +FLAGS: %v %+v", err, stored)
	}

	found, err := c.UIDSearch(&imap.SearchCriteria{Body: []string{"narwhal"}}, nil).Wait()
	if err != nil || len(found.AllUIDs()) != 1 || found.AllUIDs()[0] != ad.UID {
		t.Errorf("UID SEARCH BODY narwhal = %v, %v", found, err)
	}
	none, err := c.UIDSearch(&imap.SearchCriteria{Body: []string{"unicorn"}}, nil).Wait()
	if err != nil || len(none.AllUIDs()) != 0 {
		t.Errorf("UID SEARCH BODY unicorn = %v, %v", none, err)
	}

	// IDLE: a second client appends; the first hears * 2 EXISTS.
	idle, err := c.Idle()
	if err != nil {
		t.Fatalf("IDLE: %v", err)
	}
	c2, err := imapclient.DialTLS(tg.addr, &imapclient.Options{TLSConfig: tg.tls})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.Login(tg.user, tg.pass).Wait(); err != nil {
		t.Fatal(err)
	}
	app2 := c2.Append(box, int64(len(msg)), nil)
	app2.Write(msg)
	app2.Close()
	ad2, err := app2.Wait()
	if err != nil {
		t.Fatalf("second APPEND: %v", err)
	}
	select {
	case n := <-existsCh:
		if n != 2 {
			t.Errorf("IDLE: * %d EXISTS, want 2", n)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("IDLE: no EXISTS within 15 s of another session's APPEND")
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatalf("IDLE end: %v", err)
	}

	// UID EXPUNGE of the first message only.
	if _, err := c.Store(imap.UIDSetNum(ad.UID), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true,
		Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Store(imap.UIDSetNum(ad2.UID), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true,
		Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	exp, err := c.UIDExpunge(imap.UIDSetNum(ad.UID)).Collect()
	if err != nil || len(exp) != 1 || exp[0] != 1 {
		t.Errorf("UID EXPUNGE = %v, %v; want [1]", exp, err)
	}
	left, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{UID: true, Flags: true}).Collect()
	if err != nil || len(left) != 1 || left[0].UID != ad2.UID {
		t.Errorf("after UID EXPUNGE: %v %+v", err, left)
	}
	c2.Logout().Wait()
}

// withoutRecent drops \Recent, which IMAP4rev1 servers add and rev2 ones do not.
func withoutRecent(flags []imap.Flag) []imap.Flag {
	var out []imap.Flag
	for _, f := range flags {
		if !strings.EqualFold(string(f), `\Recent`) {
			out = append(out, f)
		}
	}
	return out
}
