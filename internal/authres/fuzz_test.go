package authres_test

import (
	"bytes"
	"strings"
	"testing"

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
