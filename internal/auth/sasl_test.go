package auth

import (
	"crypto/tls"
	"errors"
	"strings"
	"testing"

	"github.com/xdg-go/scram"
)

func TestPLAIN(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ServiceOptions{AllowPlaintext: true})
	alice := e.account("alice@example.org", "correct horse")
	conn := SASLConn{Protocol: "smtp", RemoteIP: parseIP("192.0.2.1")}
	cases := []struct {
		name      string
		responses [][]byte
		want      error
	}{
		{"initial response", [][]byte{[]byte("\x00alice@example.org\x00correct horse")}, nil},
		{"after empty challenge", [][]byte{nil, []byte("\x00alice@example.org\x00correct horse")}, nil},
		{"authzid = authcid", [][]byte{[]byte("Alice@example.org\x00alice@example.org\x00correct horse")}, nil},
		{"wrong password", [][]byte{[]byte("\x00alice@example.org\x00nope")}, ErrFailed},
		{"other authzid", [][]byte{[]byte("bob@example.org\x00alice@example.org\x00correct horse")}, ErrFailed},
		{"one NUL", [][]byte{[]byte("alice@example.org\x00correct horse")}, ErrMalformed},
		{"empty password", [][]byte{[]byte("\x00alice@example.org\x00")}, ErrMalformed},
		{"empty initial response", [][]byte{{}}, ErrMalformed},
		{"bad UTF-8", [][]byte{[]byte("\x00alice@example.org\x00\xff")}, ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := e.svc.NewSASL("plain", conn)
			if err != nil {
				t.Fatal(err)
			}
			_, done, err := run(m, c.responses...)
			if !errors.Is(err, c.want) || !done {
				t.Fatalf("got done=%v, %v; want done, %v", done, err, c.want)
			}
			if got := m.Account(); (c.want == nil) != (got.ID == alice.ID) {
				t.Errorf("Account() = %+v", got)
			}
			if _, _, err := m.Next(nil); err == nil {
				t.Error("Next after the end succeeded")
			}
		})
	}
}

func TestLOGIN(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ServiceOptions{AllowPlaintext: true})
	alice := e.account("alice@example.org", "correct horse")
	conn := SASLConn{Protocol: "smtp"}

	m, _ := e.svc.NewSASL("LOGIN", conn)
	ch, done, err := run(m, nil, []byte("alice@example.org"), []byte("correct horse"))
	if err != nil || !done || m.Account().ID != alice.ID {
		t.Fatalf("LOGIN = %v, %v, %+v", done, err, m.Account())
	}
	if len(ch) != 2 || string(ch[0]) != "Username:" || string(ch[1]) != "Password:" {
		t.Errorf("challenges %q", ch)
	}
	// The user name as initial response (AUTH LOGIN dXNlcg==).
	m, _ = e.svc.NewSASL("LOGIN", conn)
	ch, done, err = run(m, []byte("alice@example.org"), []byte("correct horse"))
	if err != nil || !done || len(ch) != 1 || string(ch[0]) != "Password:" {
		t.Errorf("LOGIN with initial response = %q, %v, %v", ch, done, err)
	}
	m, _ = e.svc.NewSASL("LOGIN", conn)
	if _, _, err := run(m, nil, []byte("alice@example.org"), []byte("wrong")); !errors.Is(err, ErrFailed) {
		t.Errorf("wrong password: %v", err)
	}
	m, _ = e.svc.NewSASL("LOGIN", conn)
	if _, _, err := run(m, nil, []byte("a\x00b")); !errors.Is(err, ErrMalformed) {
		t.Errorf("NUL in name: %v", err)
	}
}

func TestDecodeResponse(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"=": "", "YWJj": "abc", "": ""} {
		got, err := DecodeResponse(in)
		if err != nil || string(got) != want || got == nil {
			t.Errorf("DecodeResponse(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := DecodeResponse("*"); !errors.Is(err, ErrCanceled) {
		t.Errorf("*: %v", err)
	}
	for _, bad := range []string{"YWJ", "YW=j", "a b", "YWJj\n"} {
		if _, err := DecodeResponse(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodeResponse(%q) = %v, want ErrMalformed", bad, err)
		}
	}
}

// scramExchange runs a whole exchange between xdg-go/scram's client conv
// and the server mechanism.
func scramExchange(t *testing.T, m SASL, conv *scram.ClientConversation) error {
	t.Helper()
	msg, err := conv.Step("")
	if err != nil {
		t.Fatal(err)
	}
	ch, done, err := m.Next([]byte(msg))
	if err != nil || done {
		return err
	}
	msg, err = conv.Step(string(ch))
	if err != nil {
		t.Fatalf("client step 2: %v", err)
	}
	ch, done, err = m.Next([]byte(msg))
	if err != nil || done {
		return err
	}
	// The server-final message must verify: the server knows the keys.
	if _, err := conv.Step(string(ch)); err != nil {
		t.Fatalf("client rejects the server signature %q: %v", ch, err)
	}
	_, done, err = m.Next([]byte{})
	if err == nil && !done {
		t.Fatal("not done after the client's empty final response")
	}
	return err
}

func TestSCRAMSHA256(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ServiceOptions{AllowPlaintext: true})
	alice := e.account("alice@example.org", "corrëct horse") // SASLprep'd on both sides
	client := func(user, pw string) *scram.ClientConversation {
		c, err := scram.SHA256.NewClient(user, pw, "")
		if err != nil {
			t.Fatal(err)
		}
		return c.NewConversation()
	}
	m, _ := e.svc.NewSASL("SCRAM-SHA-256", SASLConn{Protocol: "imap"})
	if err := scramExchange(t, m, client("Alice@example.org", "corrëct horse")); err != nil {
		t.Fatalf("good password: %v", err)
	}
	if m.Account().ID != alice.ID {
		t.Errorf("Account() = %+v", m.Account())
	}
	m, _ = e.svc.NewSASL("SCRAM-SHA-256", SASLConn{Protocol: "imap"})
	if err := scramExchange(t, m, client("alice@example.org", "wrong")); !errors.Is(err, ErrFailed) {
		t.Errorf("wrong password: %v", err)
	}
	if m.Account().ID != 0 {
		t.Error("Account() set after a failure")
	}
	// An unknown name gets a server-first like a real one, with a salt
	// that does not change between attempts, and then fails.
	salts := map[string]bool{}
	for range 2 {
		m, _ = e.svc.NewSASL("SCRAM-SHA-256", SASLConn{Protocol: "imap"})
		conv := client("nobody@example.org", "x")
		first, _ := conv.Step("")
		ch, done, err := m.Next([]byte(first))
		if err != nil || done {
			t.Fatalf("unknown user's client-first: %v", err)
		}
		salts[string(ch[strings.Index(string(ch), ",s="):])] = true
		final, err := conv.Step(string(ch))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := m.Next([]byte(final)); !errors.Is(err, ErrFailed) {
			t.Errorf("unknown user: %v", err)
		}
	}
	if len(salts) != 1 {
		t.Errorf("an unknown user's salt changes between attempts: %v", salts)
	}
	// Without an initial response the server asks with an empty challenge.
	m, _ = e.svc.NewSASL("SCRAM-SHA-256", SASLConn{Protocol: "imap"})
	if ch, done, err := m.Next(nil); err != nil || done || len(ch) != 0 {
		t.Errorf("Next(nil) = %q, %v, %v", ch, done, err)
	}
}

// TestSCRAMSHA256Plus: channel binding with tls-exporter over TLS 1.3 and
// 1.2; a binding to another connection fails; a client that could bind
// but took plain SCRAM while -PLUS was offered is refused.
func TestSCRAMSHA256Plus(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ServiceOptions{})
	alice := e.account("alice@example.org", "correct horse")
	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		srv, cli := tlsPair(t, v)
		cb, err := scram.NewTLSExporterBinding(cli)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := scram.SHA256.NewClient("alice@example.org", "correct horse", "")
		m, err := e.svc.NewSASL("SCRAM-SHA-256-PLUS", SASLConn{TLS: srv, Protocol: "imap"})
		if err != nil {
			t.Fatal(err)
		}
		if err := scramExchange(t, m, c.NewConversationWithChannelBinding(cb)); err != nil || m.Account().ID != alice.ID {
			t.Errorf("%s: SCRAM-SHA-256-PLUS = %v", tls.VersionName(v), err)
		}
	}

	// The client's TLS connection is another one than the server's: a man
	// in the middle.
	srv, _ := tlsPair(t, tls.VersionTLS13)
	_, otherCli := tlsPair(t, tls.VersionTLS13)
	cb, _ := scram.NewTLSExporterBinding(otherCli)
	c, _ := scram.SHA256.NewClient("alice@example.org", "correct horse", "")
	m, _ := e.svc.NewSASL("SCRAM-SHA-256-PLUS", SASLConn{TLS: srv, Protocol: "imap"})
	if err := scramExchange(t, m, c.NewConversationWithChannelBinding(cb)); !errors.Is(err, ErrFailed) {
		t.Errorf("binding to another connection: %v, want ErrFailed", err)
	}

	// -PLUS without binding is malformed.
	m, _ = e.svc.NewSASL("SCRAM-SHA-256-PLUS", SASLConn{TLS: srv, Protocol: "imap"})
	if _, _, err := m.Next([]byte("n,,n=alice@example.org,r=abcdefgh")); !errors.Is(err, ErrMalformed) {
		t.Errorf("-PLUS with flag n: %v", err)
	}
	// Downgrade: "y" on plain SCRAM while -PLUS was on offer (RFC 5802 §6).
	m, _ = e.svc.NewSASL("SCRAM-SHA-256", SASLConn{TLS: srv, Protocol: "imap"})
	if _, _, err := m.Next([]byte("y,,n=alice@example.org,r=abcdefgh")); !errors.Is(err, ErrFailed) {
		t.Errorf("y flag while -PLUS offered: %v, want ErrFailed", err)
	}
	// Plain SCRAM with "n" over TLS works.
	c, _ = scram.SHA256.NewClient("alice@example.org", "correct horse", "")
	m, _ = e.svc.NewSASL("SCRAM-SHA-256", SASLConn{TLS: srv, Protocol: "imap"})
	if err := scramExchange(t, m, c.NewConversation()); err != nil {
		t.Errorf("SCRAM-SHA-256 over TLS: %v", err)
	}
}

// TestSCRAMThrottled: a locked-out name is refused at client-first.
func TestSCRAMThrottled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ServiceOptions{AllowPlaintext: true, Throttle: ThrottleOptions{MaxFailuresPerAccount: 2}})
	e.account("alice@example.org", "correct horse")
	e.login("alice@example.org", "x", "192.0.2.1")
	e.login("alice@example.org", "y", "192.0.2.2")
	c, _ := scram.SHA256.NewClient("alice@example.org", "correct horse", "")
	m, _ := e.svc.NewSASL("SCRAM-SHA-256", SASLConn{Protocol: "imap"})
	var te *ThrottledError
	if err := scramExchange(t, m, c.NewConversation()); !errors.As(err, &te) {
		t.Errorf("SCRAM during a lockout: %v, want *ThrottledError", err)
	}
}

func TestParseGS2Flag(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"n,,": "n", "y,a=x,": "y", "p=tls-exporter,,": "p tls-exporter"} {
		f, name, err := parseGS2Flag(in)
		if got := strings.TrimSpace(f + " " + name); err != nil || got != want {
			t.Errorf("parseGS2Flag(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "x,,", "p=,,", "p=a b,,", "n"} {
		if _, _, err := parseGS2Flag(bad); err == nil {
			t.Errorf("parseGS2Flag(%q) accepted", bad)
		}
	}
}
