package tlspolicy_test

import (
	"bufio"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/tlspolicy"
)

// FuzzParseSTSPolicy: the parser never panics, and what it accepts it
// accepts again when written back in canonical form, with the same
// meaning.
func FuzzParseSTSPolicy(f *testing.F) {
	f.Add(enforcePolicy)
	f.Add("version: STSv1\r\nmode: testing\r\nmx: *.example.net\r\nmax_age: 31557600\r\n")
	f.Add("version: STSv1\nmode: none\nmax_age: 0")
	f.Fuzz(func(t *testing.T, text string) {
		p, err := tlspolicy.ParseSTSPolicy(text)
		if err != nil {
			return
		}
		if p.MaxAge < 0 || p.MaxAge > 31557600*time.Second {
			t.Fatalf("max_age %v out of range", p.MaxAge)
		}
		var b strings.Builder
		b.WriteString("version: STSv1\nmode: " + string(p.Mode) + "\n")
		for _, mx := range p.MX {
			b.WriteString("mx: " + mx + "\n")
			if !strings.HasPrefix(mx, "*.") && !p.Match(mx) {
				t.Fatalf("pattern %q does not match itself", mx)
			}
			if strings.HasPrefix(mx, "*.") && (p.Match(mx[2:]) && !slices.Contains(p.MX, mx[2:])) {
				t.Fatalf("wildcard %q matches its own base", mx)
			}
		}
		b.WriteString("max_age: " + strconv.FormatInt(int64(p.MaxAge/time.Second), 10) + "\n")
		q, err := tlspolicy.ParseSTSPolicy(b.String())
		if err != nil {
			t.Fatalf("canonical form %q refused: %v", b.String(), err)
		}
		if q.Mode != p.Mode || q.MaxAge != p.MaxAge || !slices.Equal(q.MX, p.MX) {
			t.Fatalf("round trip: %+v != %+v", q, p)
		}
	})
}

// FuzzParseSTSRecord: never panics; an accepted id is 1-32 letters and
// digits and is found again in the canonical record.
func FuzzParseSTSRecord(f *testing.F) {
	f.Add("v=STSv1; id=20160831085700Z;")
	f.Add("v=STSv1;id=abc;ext=1")
	f.Fuzz(func(t *testing.T, txt string) {
		id, err := tlspolicy.ParseSTSRecord(txt)
		if err != nil {
			return
		}
		if len(id) < 1 || len(id) > 32 {
			t.Fatalf("id %q", id)
		}
		if again, err := tlspolicy.ParseSTSRecord("v=STSv1; id=" + id); err != nil || again != id {
			t.Fatalf("canonical record: %q, %v", again, err)
		}
	})
}

// FuzzTLSOptional: on CRLF-only messages whose header net/textproto
// reads, TLSOptional agrees with it.
func FuzzTLSOptional(f *testing.F) {
	f.Add([]byte("TLS-Required: No\r\nSubject: x\r\n\r\nbody"))
	f.Add([]byte("Subject: x\r\nTLS-Required:\r\n  no\r\n\r\n"))
	f.Add([]byte("TLS-Required: Yes\r\n\r\nTLS-Required: No\r\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		got := tlspolicy.TLSOptional(msg)
		s := strings.ReplaceAll(string(msg), "\r\n", "")
		if strings.ContainsAny(s, "\r\n") || !strings.Contains(string(msg), "\r\n\r\n") {
			return // SMTP gives us CRLF only; the header must end
		}
		end := strings.Index(string(msg), "\r\n\r\n") + 4
		h, err := textproto.NewReader(bufio.NewReader(strings.NewReader(string(msg[:end])))).ReadMIMEHeader()
		if err != nil {
			return
		}
		want := false
		for _, v := range h.Values("Tls-Required") {
			want = want || strings.EqualFold(strings.TrimSpace(v), "no")
		}
		if got != want {
			t.Fatalf("TLSOptional = %v, textproto says %v (%q)", got, want, h.Values("Tls-Required"))
		}
	})
}
