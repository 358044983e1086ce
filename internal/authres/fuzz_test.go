package authres_test

import (
	"bytes"
	"strings"
	"testing"

	msgauthres "github.com/emersion/go-msgauth/authres"

	"github.com/posthorn/posthorn/internal/authres"
)

// FuzzRemoveOurs: after removal no header field claims our id, nothing
// but whole fields is removed, and a second pass finds nothing.
func FuzzRemoveOurs(f *testing.F) {
	f.Add([]byte("Authentication-Results: mx.example.test; spf=pass\r\nSubject: x\r\n\r\nbody"))
	f.Add([]byte("A: b\r\n\tc\r\nauthentication-results:(c)mx.example.test\r\n\r\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		out, found := authres.RemoveOurs(msg, "mx.example.test")
		if !found && !bytes.Equal(out, msg) {
			t.Fatal("changed without finding")
		}
		if len(out) > len(msg) {
			t.Fatal("grew")
		}
		if _, again := authres.RemoveOurs(out, "mx.example.test"); again {
			t.Fatalf("second pass found more in %q", out)
		}
		if found && !strings.Contains(strings.ToLower(string(msg)), "authentication-results") {
			t.Fatal("removed a field that is not Authentication-Results")
		}
	})
}

// FuzzAppendField: whatever a client chose for HELO and MAIL FROM, the
// field is one header field (no bare line breaks, continuation lines
// folded with a tab), every line within 998 octets.
func FuzzAppendField(f *testing.F) {
	f.Add("client.example", "a@b.example")
	f.Add("[192.0.2.1]", `"quoted local"@b.example`)
	f.Fuzz(func(t *testing.T, helo, from string) {
		if strings.ContainsAny(helo+from, "\r\n") {
			return // SMTP command arguments never hold line breaks
		}
		got := string(authres.AppendField(nil, "mx.example.test", []authres.Result{
			&msgauthres.SPFResult{Value: "pass", From: from},
			&msgauthres.SPFResult{Value: "none", Helo: helo},
		}))
		lines := strings.Split(strings.TrimSuffix(got, "\r\n"), "\r\n")
		for i, l := range lines {
			if len(l) > 998 {
				t.Fatalf("line %d has %d octets", i, len(l))
			}
			if i > 0 && !strings.HasPrefix(l, "\t") {
				t.Fatalf("line %d is not a continuation: %q", i, l)
			}
		}
	})
}
