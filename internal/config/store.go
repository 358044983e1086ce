package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Store backends.
const (
	StoreSQLite   = "sqlite"
	StorePostgres = "postgres"
)

// StoreDSNEnv is the environment variable that gives the PostgreSQL
// connection string when neither [store] dsn nor dsn_file does.
const StoreDSNEnv = "POSTHORN_STORE_DSN"

func (v *validator) store(s Store) {
	const p = "store."
	switch s.Backend {
	case StoreSQLite:
		if s.DSN != "" {
			v.add(p+"dsn", "set, but backend is \"sqlite\"", `remove it, or set backend = "postgres"`)
		}
		if s.DSNFile != "" {
			v.add(p+"dsn_file", "set, but backend is \"sqlite\"", `remove it, or set backend = "postgres"`)
		}
	case StorePostgres:
		if s.DSN != "" && s.DSNFile != "" {
			v.add(p+"dsn_file", "set together with dsn", "set one of them")
		}
	default:
		v.add(p+"backend", fmt.Sprintf("%q is not a store backend", s.Backend), `use "sqlite" (embedded, one node) or "postgres" (shared by several nodes)`)
	}
}

// PostgresDSN returns the PostgreSQL connection string of backend
// "postgres": dsn, else the content of dsn_file, else the environment
// variable StoreDSNEnv (read with getenv). The error says where it looked.
func (s Store) PostgresDSN(getenv func(string) string) (string, error) {
	switch {
	case s.DSN != "":
		return s.DSN, nil
	case s.DSNFile != "":
		b, err := os.ReadFile(s.DSNFile)
		if err != nil {
			return "", fmt.Errorf("store.dsn_file: %w", err)
		}
		dsn := strings.TrimSpace(string(b))
		if dsn == "" {
			return "", fmt.Errorf("store.dsn_file: %s is empty", s.DSNFile)
		}
		return dsn, nil
	}
	if dsn := strings.TrimSpace(getenv(StoreDSNEnv)); dsn != "" {
		return dsn, nil
	}
	return "", errors.New(`store: backend "postgres" needs a connection string: set [store] dsn or dsn_file, or the environment variable ` + StoreDSNEnv)
}
