// Package dkimtest runs dkimpy (Debian python3-dkim), a DKIM
// implementation independent of ours, for interop tests: our signatures
// must verify there, and fail there after tampering.
package dkimtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/posthorn/posthorn/internal/dkim"
	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// Python returns a Python interpreter that has dkimpy and PyNaCl (for
// Ed25519): Debian's first, since python3-dkim installs for it and a
// python3 earlier in PATH (pyenv, venv) may not see it. Without one the
// test is skipped, or fails under CI=true.
func Python(t testing.TB) string {
	t.Helper()
	return tools.Python(t, "dkim", "nacl")
}

// Run runs a Python script with args and returns its standard output.
func Run(t testing.TB, py, script string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(py, append([]string{"-c", script}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Logf("python stderr: %s", stderr.String())
	}
	return out
}

// WriteJSON writes v as JSON to path.
func WriteJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// verifyScript verifies every DKIM-Signature of each message file with
// dkimpy, key lookups answered from a JSON file (record name → TXT), and
// prints the verdicts, one list per message. One interpreter start for
// all messages: Python starts slowly.
const verifyScript = `
import dkim, json, sys
keys = json.load(open(sys.argv[1]))
def dnsfunc(name, timeout=5):
    n = (name.decode() if isinstance(name, bytes) else name).rstrip('.').lower()
    v = keys.get(n)
    return v.encode() if v is not None else None
out = []
for path in sys.argv[2:]:
    d = dkim.DKIM(open(path, 'rb').read(), minkey=1024)
    n = sum(1 for h in d.headers if h[0].lower() == b'dkim-signature')
    res = []
    for i in range(n):
        try:
            res.append(bool(d.verify(idx=i, dnsfunc=dnsfunc)))
        except Exception as e:
            print(e, file=sys.stderr)
            res.append(False)
    out.append(res)
print(json.dumps(out))
`

// Records returns the public key records of the keys in kd, by record
// name, as Verify takes them.
func Records(t testing.TB, kd dkim.KeyDir) map[string]string {
	t.Helper()
	keys, err := kd.List()
	if err != nil {
		t.Fatal(err)
	}
	records := map[string]string{}
	for _, k := range keys {
		records[dkim.RecordName(k.Selector, k.Domain)] = k.Record
	}
	return records
}

// Verify has dkimpy verify every DKIM-Signature field of each message,
// with the key records given (record name, e.g. "s1._domainkey.example.org",
// → TXT), and returns one verdict per signature, in field order, per
// message.
func Verify(t testing.TB, py string, records map[string]string, msgs []string) [][]bool {
	t.Helper()
	dir := t.TempDir()
	args := []string{filepath.Join(dir, "keys.json")}
	WriteJSON(t, args[0], records)
	for i, m := range msgs {
		p := filepath.Join(dir, fmt.Sprintf("msg%d.eml", i))
		if err := os.WriteFile(p, []byte(m), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	var got [][]bool
	out := Run(t, py, verifyScript, args...)
	if err := json.Unmarshal(out, &got); err != nil || len(got) != len(msgs) {
		t.Fatalf("dkimpy output %q: %v", out, err)
	}
	return got
}
