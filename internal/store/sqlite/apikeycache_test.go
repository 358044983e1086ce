package sqlite

import (
	"crypto/sha256"
	"path/filepath"
	"testing"

	"github.com/posthorn/posthorn/internal/store"
)

// TestAPIKeyCacheAcrossStores: two Stores on one file stand for the
// server and the `apikey` command. Keys the server has looked up (and
// cached) are gone for it at once when the other Store revokes them or
// removes their domain, and a key added by the other Store is found.
// Without the version file nothing is cached, and a revocation still
// holds.
func TestAPIKeyCacheAcrossStores(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "posthorn.db")
	server, cli := openTest(t, path), openTest(t, path)
	for _, d := range []string{"a.test", "b.test"} {
		if err := cli.AddDomain(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	add := func(name, prefix, domain string) {
		t.Helper()
		h := sha256.Sum256([]byte(name))
		if _, err := cli.AddAPIKey(ctx, store.APIKey{Name: name, Domain: domain, Prefix: prefix, Hash: h[:]}); err != nil {
			t.Fatal(err)
		}
	}
	want := func(prefix string, n int) {
		t.Helper()
		for range 3 { // the second and third from the cache when it holds
			ks, err := server.APIKeysByPrefix(ctx, prefix)
			if err != nil || len(ks) != n {
				t.Fatalf("APIKeysByPrefix(%s): %d keys (%v), want %d", prefix, len(ks), err, n)
			}
		}
	}
	add("shop", "ph_aaaaaaaa", "a.test")
	add("blog", "ph_bbbbbbbb", "b.test")
	want("ph_aaaaaaaa", 1)
	want("ph_bbbbbbbb", 1)
	if v, ok := server.keys.current(); !ok {
		t.Fatal("no version file")
	} else if ks, hit := server.keys.get(v, ok, "ph_aaaaaaaa"); !hit || len(ks) != 1 {
		t.Fatalf("not cached: %v %v", ks, hit)
	}

	if err := cli.RemoveAPIKey(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	want("ph_aaaaaaaa", 0)
	want("ph_bbbbbbbb", 1)
	add("shop2", "ph_bbbbbbbb", "a.test") // same prefix as blog's
	want("ph_bbbbbbbb", 2)
	if err := cli.RemoveDomain(ctx, "b.test"); err != nil {
		t.Fatal(err)
	}
	want("ph_bbbbbbbb", 1)

	// A third process, started later, shares the version.
	late := openTest(t, path)
	add("shop3", "ph_cccccccc", "a.test")
	want("ph_cccccccc", 1)
	if err := late.RemoveAPIKey(ctx, "shop3"); err != nil {
		t.Fatal(err)
	}
	want("ph_cccccccc", 0)
}

// TestAPIKeyCacheUnmapped: where the version file cannot be made, nothing
// is cached and a change is no error.
func TestAPIKeyCacheUnmapped(t *testing.T) {
	c := newKeyCache(filepath.Join(t.TempDir(), "missing", "posthorn.db"))
	v, ok := c.current()
	if ok {
		t.Fatal("a version without a file")
	}
	c.put(v, ok, "ph_aaaaaaaa", []store.APIKey{{Name: "x"}})
	if _, hit := c.get(v, ok, "ph_aaaaaaaa"); hit {
		t.Error("cached without a version file")
	}
	if err := c.bump(); err != nil {
		t.Errorf("bump: %v", err)
	}
	c.close()
}
