package auth

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/posthorn/posthorn/internal/store/sqlite"
)

// The SASL decoders take bytes from unauthenticated clients. Seed corpora
// are in testdata/fuzz.

func FuzzParsePlain(f *testing.F) {
	f.Add([]byte("\x00alice@example.org\x00secret"))
	f.Add([]byte("admin\x00alice@example.org\x00secret"))
	f.Add([]byte("\x00\x00"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		authz, authc, pass, err := ParsePlain(msg)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if authc == "" || pass == "" {
			t.Fatalf("empty authcid or password accepted from %q", msg)
		}
		if back := authz + "\x00" + authc + "\x00" + pass; back != string(msg) {
			t.Fatalf("parts %q %q %q do not make up %q", authz, authc, pass, msg)
		}
	})
}

func FuzzDecodeResponse(f *testing.F) {
	for _, s := range []string{"=", "*", "", "YWJj", "YWJ", "dXNlcg==", "dXNlcg", "====", "YW=j"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		b, err := DecodeResponse(line)
		switch {
		case errors.Is(err, ErrCanceled):
			if line != "*" {
				t.Fatalf("%q taken as cancel", line)
			}
		case err != nil:
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
		case b == nil:
			t.Fatalf("nil response for %q (nil means no initial response)", line)
		case line != "=" && EncodeChallenge(b) != line:
			t.Fatalf("%q decoded to %q, which encodes as %q", line, b, EncodeChallenge(b))
		}
	})
}

// fuzzService is a Service with one account and no throttling.
func fuzzService(f *testing.F) *Service {
	st, err := sqlite.Open(context.Background(), filepath.Join(f.TempDir(), "fuzz.db"), sqlite.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	ctx := context.Background()
	if err := st.AddDomain(ctx, "example.org"); err != nil {
		f.Fatal(err)
	}
	cred, err := NewCredentials("correct horse")
	if err != nil {
		f.Fatal(err)
	}
	if _, err := st.AddAccount(ctx, "alice@example.org", cred); err != nil {
		f.Fatal(err)
	}
	return NewService(st, ServiceOptions{AllowPlaintext: true, Throttle: ThrottleOptions{Disabled: true}})
}

// FuzzLOGIN drives LOGIN with arbitrary responses: it never panics, ends
// within three steps, and never logs in without the password.
func FuzzLOGIN(f *testing.F) {
	svc := fuzzService(f)
	f.Add([]byte("alice@example.org"), []byte("guess"), true)
	f.Add([]byte("alice\x00"), []byte(""), false)
	f.Add([]byte{}, []byte("\xff"), true)
	f.Fuzz(func(t *testing.T, user, pass []byte, initial bool) {
		if bytes.Equal(pass, []byte("correct horse")) {
			return
		}
		m, err := svc.NewSASL("LOGIN", SASLConn{Protocol: "smtp"})
		if err != nil {
			t.Fatal(err)
		}
		responses := [][]byte{nil, user, pass}
		if initial {
			responses = responses[1:]
		}
		_, done, err := run(m, responses...)
		if err == nil {
			t.Fatalf("LOGIN %q %q succeeded (done=%v)", user, pass, done)
		}
		if !done {
			t.Fatal("failed but not done")
		}
	})
}

// FuzzSCRAM feeds arbitrary client-first and client-final messages to
// SCRAM-SHA-256: no panic, and no login without a valid proof.
func FuzzSCRAM(f *testing.F) {
	svc := fuzzService(f)
	f.Add("n,,n=alice@example.org,r=fyko+d2lbbFgONRv9qkxdawL", "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=")
	f.Add("y,a=alice@example.org,n=alice@example.org,r=x", "c=eSwsYT1hbGljZUBleGFtcGxlLm9yZyw=,r=x,p=AAAA")
	f.Add("p=tls-exporter,,n=bob,r=1", "c=,r=,p=")
	f.Add("n,,n=a=2Cb=3Dc,r=abc,e=ext", "c=biws,r=abcd,x=1,p=====")
	f.Add("n,,m=ext,n=alice@example.org,r=x", "")
	f.Fuzz(func(t *testing.T, first, final string) {
		m, err := svc.NewSASL("SCRAM-SHA-256", SASLConn{Protocol: "imap"})
		if err != nil {
			t.Fatal(err)
		}
		ch, done, err := m.Next([]byte(first))
		if err != nil || done {
			if err == nil {
				t.Fatal("done after client-first without error")
			}
			return
		}
		if len(ch) == 0 {
			t.Fatal("empty server-first message")
		}
		_, done, err = m.Next([]byte(final))
		if err == nil {
			t.Fatalf("proof %q accepted for client-first %q", final, first)
		}
		if !done {
			t.Fatal("failed but not done")
		}
		if m.Account().ID != 0 {
			t.Fatal("Account() set after a failure")
		}
	})
}
