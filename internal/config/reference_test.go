package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const referenceFile = "../../docs/config.md"

// TestReferenceUpToDate fails when docs/config.md is not what Reference
// generates from the current config.go.
func TestReferenceUpToDate(t *testing.T) {
	want, err := Reference()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(referenceFile)
	if err != nil {
		t.Fatalf("%v; create it with: go generate ./internal/config", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("docs/config.md is out of date with internal/config/config.go; regenerate it with:\n\tgo generate ./internal/config")
	}
}

// TestEveryKeyDocumented checks the schema walk finds a doc comment for
// every field and puts every key in the reference.
func TestEveryKeyDocumented(t *testing.T) {
	docs, err := parseFieldDocs()
	if err != nil {
		t.Fatal(err)
	}
	secs, missing := sections(docs)
	if len(missing) > 0 {
		t.Errorf("fields without a doc comment: %v", missing)
	}
	ref, err := Reference()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range secs {
		for _, k := range s.keys {
			n++
			if _, ok := lookupKey(k.path); !ok {
				t.Errorf("key %q not in the schema", k.path)
			}
			if !bytes.Contains(ref, []byte("### `"+k.path+"`")) {
				t.Errorf("key %q missing from the reference", k.path)
			}
		}
	}
	if n < 20 {
		t.Errorf("only %d keys documented", n)
	}
}

// TestSampleLoads checks the sample is a valid file equal to the defaults
// (but for its example hostname, node name and domains).
func TestSampleLoads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "posthorn.toml")
	if err := os.WriteFile(path, []byte(Sample()), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatalf("sample does not load:\n%v\n%s", err, Sample())
	}
	want := Default()
	want.Hostname = "mail.example.com"
	want.Node = "node-1"
	want.Domains = []string{"example.com"}
	if !equalConfig(c, want) {
		t.Errorf("sample differs from the defaults:\ngot  %+v\nwant %+v", c, want)
	}
	for _, key := range []string{"hostname =", "[[listeners]]", "[tls]", "[limits.smtp]", "max_message_size = \"50MiB\"", "command_timeout = \"5m\"", "[log]"} {
		if !strings.Contains(Sample(), key) {
			t.Errorf("sample lacks %q", key)
		}
	}
}
