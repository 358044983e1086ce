package test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestAPIKeyStoredHashed: the key `posthorn apikey create` prints appears
// nowhere in the data directory (the database and its WAL), neither whole
// nor its secret part after the listed prefix, while its SHA-256 does
// (raw or hex):
// a store that kept the key in clear text fails.
func TestAPIKeyStoredHashed(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if out, err := run(t, nil, "domain", "add", "-data-dir", data, "a.test"); err != nil {
		t.Fatalf("domain add: %v\n%s", err, out)
	}
	out, err := run(t, nil, "apikey", "create", "-data-dir", data, "shop", "a.test")
	key := regexp.MustCompile(`ph_[0-9a-z]{52}`).FindString(out)
	if err != nil || key == "" {
		t.Fatalf("apikey create: %v\n%s", err, out)
	}
	sum := sha256.Sum256([]byte(key))
	var all []byte
	files, _ := filepath.Glob(filepath.Join(data, "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	if len(files) == 0 {
		t.Fatalf("no files in %s", data)
	}
	if bytes.Contains(all, []byte(key[11:])) {
		t.Errorf("the key's secret part is stored in clear text in %v", files)
	}
	if !bytes.Contains(all, sum[:]) && !bytes.Contains(all, []byte(hex.EncodeToString(sum[:]))) {
		t.Errorf("the key's SHA-256 is not in %v", files)
	}
}
