package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/storetest"
)

func openTest(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.RunWithOptions(t,
		func(t *testing.T) store.Store {
			return openTest(t, filepath.Join(t.TempDir(), "posthorn.db"))
		},
		storetest.Options{
			Reopen: func(t *testing.T, s store.Store) store.Store {
				path := s.(*Store).path
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				return openTest(t, path)
			},
		})
}
