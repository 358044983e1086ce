package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPostgresDSN: dsn, then dsn_file (trimmed), then the environment; the
// errors name what to set.
func TestPostgresDSN(t *testing.T) {
	file := filepath.Join(t.TempDir(), "dsn")
	if err := os.WriteFile(file, []byte("  postgres://from-file/mail\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == StoreDSNEnv {
				return v
			}
			return ""
		}
	}
	tests := []struct {
		name    string
		s       Store
		env     string
		want    string
		wantErr string
	}{
		{"dsn", Store{DSN: "postgres://inline/mail"}, "postgres://env/mail", "postgres://inline/mail", ""},
		{"file", Store{DSNFile: file}, "postgres://env/mail", "postgres://from-file/mail", ""},
		{"env", Store{}, " postgres://env/mail ", "postgres://env/mail", ""},
		{"none", Store{}, "", "", "set [store] dsn or dsn_file, or the environment variable POSTHORN_STORE_DSN"},
		{"file missing", Store{DSNFile: file + ".missing"}, "", "", "store.dsn_file: open"},
		{"file empty", Store{DSNFile: empty}, "postgres://env/mail", "", "is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.s.PostgresDSN(env(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %q, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
