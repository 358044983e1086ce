package dkim_test

import (
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/dkim"
	"github.com/posthorn/posthorn/internal/dkim/dkimtest"
)

// Interop with dkimpy (Debian package python3-dkim), an independent DKIM
// implementation: our signatures verify there, its signatures verify here.

// dkimpySign signs a message once per job of a JSON list with dkimpy and
// prints the DKIM-Signature fields as a JSON list.
const dkimpySign = `
import dkim, json, sys
jobs = json.load(open(sys.argv[1]))
out = []
for a in jobs:
    msg = open(a['msg'], 'rb').read()
    sig = dkim.sign(msg, a['selector'].encode(), a['domain'].encode(), a['key'].encode(),
                    canonicalize=tuple(c.encode() for c in a['canon']),
                    signature_algorithm=a['alg'].encode(), length=a['length'])
    out.append(sig.decode())
print(json.dumps(out))
`

func TestPythonVerifiesOurs(t *testing.T) {
	py := dkimtest.Python(t)
	keys := testKeys(t)
	records := map[string]string{}
	for _, k := range keys {
		rec, _ := dkim.Record(k.Signer.Public())
		records[dkim.RecordName(k.Selector, k.Domain)] = rec
	}
	s, err := dkim.NewSigner(keys, dkim.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	signed := sign(t, s, "example.org", testMessage)
	cases := []struct {
		name, msg string
		want      []bool // RSA, Ed25519
	}{
		{"signed", signed, []bool{true, true}},
		{"tampered header", strings.Replace(signed, "Subject: Lunch", "Subject: Dinner", 1), []bool{false, false}},
		{"tampered body", strings.Replace(signed, "at noon", "at one", 1), []bool{false, false}},
		{"added From", strings.Replace(signed, "To: Bob", "From: mallory@example.net\r\nTo: Bob", 1), []bool{false, false}},
	}
	var msgs []string
	for _, c := range cases {
		msgs = append(msgs, c.msg)
	}
	got := dkimtest.Verify(t, py, records, msgs)
	for i, c := range cases {
		if !slices.Equal(got[i], c.want) {
			t.Errorf("%s: dkimpy says %v, want %v (RSA, Ed25519)", c.name, got[i], c.want)
		}
	}
}

func TestWeVerifyPython(t *testing.T) {
	py := dkimtest.Python(t)
	dir := t.TempDir()
	keys := testKeys(t)
	r := resolverFor(t, keyZone(t, keys, ""))
	msgPath := filepath.Join(dir, "msg.eml")
	if err := os.WriteFile(msgPath, []byte(testMessage), 0o600); err != nil {
		t.Fatal(err)
	}
	rsaPEM := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(keys[0].Signer.(*rsa.PrivateKey))}))
	edSeed := base64.StdEncoding.EncodeToString(keys[1].Signer.(ed25519.PrivateKey).Seed())

	tests := []struct {
		name, alg, selector, key string
		canon                    []string
		length                   bool
		want                     dkim.Status
	}{
		{"rsa relaxed/simple", "rsa-sha256", "rsa", rsaPEM, []string{"relaxed", "simple"}, false, dkim.StatusPass},
		{"rsa simple/simple", "rsa-sha256", "rsa", rsaPEM, []string{"simple", "simple"}, false, dkim.StatusPass},
		{"ed25519 relaxed/relaxed", "ed25519-sha256", "ed", edSeed, []string{"relaxed", "relaxed"}, false, dkim.StatusPass},
		{"rsa with l=", "rsa-sha256", "rsa", rsaPEM, []string{"relaxed", "relaxed"}, true, dkim.StatusPolicy},
	}
	var jobs []map[string]any
	for _, tt := range tests {
		jobs = append(jobs, map[string]any{
			"msg": msgPath, "selector": tt.selector, "domain": "example.org", "key": tt.key,
			"canon": tt.canon, "alg": tt.alg, "length": tt.length,
		})
	}
	dkimtest.WriteJSON(t, filepath.Join(dir, "jobs.json"), jobs)
	var sigs []string
	if err := json.Unmarshal(dkimtest.Run(t, py, dkimpySign, filepath.Join(dir, "jobs.json")), &sigs); err != nil || len(sigs) != len(tests) {
		t.Fatalf("dkimpy output %q: %v", sigs, err)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			signed := sigs[i] + testMessage
			res := verify(t, r, signed)
			if len(res) != 1 || res[0].Status != tt.want {
				t.Fatalf("results %+v", res)
			}
			if res[0].Signature.Algorithm != tt.alg || res[0].Signature.Canonicalization != strings.Join(tt.canon, "/") {
				t.Errorf("signature %+v", res[0].Signature)
			}
			if tt.want != dkim.StatusPass {
				return
			}
			for what, msg := range map[string]string{
				"header": strings.Replace(signed, "Subject: Lunch", "Subject: Dinner", 1),
				"body":   strings.Replace(signed, "at noon", "at one", 1),
			} {
				if got := statuses(verify(t, r, msg)); !slices.Equal(got, []dkim.Status{dkim.StatusFail}) {
					t.Errorf("tampered %s: %v", what, got)
				}
			}
		})
	}
}
