package dkim_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/dkim"
)

func TestKeyDir(t *testing.T) {
	d := dkim.KeyDir{Dir: filepath.Join(t.TempDir(), "dkim")}
	if keys, err := d.List(); err != nil || len(keys) != 0 {
		t.Fatalf("List of a missing directory = %v, %v", keys, err)
	}
	now := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	var made []dkim.KeyInfo
	for _, alg := range []dkim.Algorithm{dkim.RSA, dkim.Ed25519} {
		k, err := d.Generate("Example.ORG", dkim.DefaultSelector(alg, now), alg)
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, k)
	}
	if made[0].Selector != "rsa-20261128" || made[1].Selector != "ed25519-20261128" || made[0].Domain != "example.org" {
		t.Errorf("generated %+v", made)
	}
	for _, k := range made {
		fi, err := os.Stat(k.Path)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", k.Path, fi.Mode(), err)
		}
	}
	if fi, _ := os.Stat(filepath.Dir(made[0].Path)); fi.Mode().Perm() != 0o700 {
		t.Errorf("domain directory mode %v, want 0700", fi.Mode())
	}
	if _, err := d.Generate("example.org", made[0].Selector, dkim.Ed25519); !errors.Is(err, dkim.ErrKeyExists) {
		t.Errorf("Generate over an existing selector: %v", err)
	}
	for _, bad := range [][2]string{{"../etc", "s"}, {"example.org", "../x"}, {"example.org", "a/b"}, {"", "s"}} {
		if _, err := d.Generate(bad[0], bad[1], dkim.Ed25519); err == nil {
			t.Errorf("Generate(%q, %q) accepted", bad[0], bad[1])
		}
	}
	list, err := d.List()
	if err != nil || len(list) != 2 {
		t.Fatalf("List = %+v, %v", list, err)
	}
	// Sorted by selector: ed25519-… before rsa-….
	if list[0].Algorithm != dkim.Ed25519 || list[1].Algorithm != dkim.RSA || list[1].Record != made[0].Record {
		t.Errorf("List = %+v", list)
	}
	if !strings.HasPrefix(list[0].Record, "v=DKIM1; k=ed25519; p=") {
		t.Errorf("record %q", list[0].Record)
	}

	// A running signer picks up removals and additions.
	s, err := dkim.NewDirSigner(d, dkim.SignOptions{}, time.Nanosecond)
	if err != nil {
		t.Fatal(err)
	}
	if sigs := signCount(t, s, "example.org"); sigs != 2 {
		t.Errorf("%d signatures, want 2", sigs)
	}
	if err := d.Remove("example.org", made[0].Selector); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove("example.org", made[0].Selector); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("second Remove: %v", err)
	}
	if sigs := signCount(t, s, "example.org"); sigs != 1 {
		t.Errorf("after rm: %d signatures, want 1", sigs)
	}
	if _, err := d.Generate("other.test", "s1", dkim.Ed25519); err != nil {
		t.Fatal(err)
	}
	if sigs := signCount(t, s, "other.test"); sigs != 1 {
		t.Errorf("new domain: %d signatures, want 1", sigs)
	}
	if _, err := s.Sign("unknown.test", strings.NewReader(testMessage)); !errors.Is(err, dkim.ErrNoKey) {
		t.Errorf("domain without keys: %v", err)
	}

	// A damaged key file is refused rather than skipped.
	if err := os.WriteFile(filepath.Join(d.Dir, "other.test", "bad.pem"), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := d.List(); err == nil {
		t.Error("List accepted a damaged key file")
	}
	if _, err := dkim.NewDirSigner(d, dkim.SignOptions{}, 0); err == nil {
		t.Error("NewDirSigner accepted a damaged key file")
	}
}

func signCount(t *testing.T, s *dkim.DirSigner, domain string) int {
	t.Helper()
	h, err := s.Sign(domain, strings.NewReader(testMessage))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(h, "DKIM-Signature:")
}
