package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/posthorn/posthorn/internal/config"
	"github.com/posthorn/posthorn/internal/daemon"
	"github.com/posthorn/posthorn/internal/smtp"
	"github.com/posthorn/posthorn/internal/store"
)

// DefaultConfigFile is where serve and the administration commands look for
// the configuration when neither -config nor $POSTHORN_CONFIG says.
const DefaultConfigFile = "/etc/posthorn/posthorn.toml"

// storeFlags locate the store for administration commands.
type storeFlags struct {
	config  string
	dataDir string
}

func (s *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.config, "config", "", "configuration `file` (default $POSTHORN_CONFIG or "+DefaultConfigFile+")")
	fs.StringVar(&s.dataDir, "data-dir", "", "data `directory`; overrides the configuration's data_dir")
}

func configPath(env *Env, flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if p := env.Getenv("POSTHORN_CONFIG"); p != "" {
		return p
	}
	return DefaultConfigFile
}

// dir returns the data directory named by the flags.
func (s *storeFlags) dir(env *Env) (string, error) {
	_, dir, err := s.location(env)
	return dir, err
}

// location returns the store and data directory named by the flags:
// -data-dir alone is the embedded store in that directory; otherwise the
// configuration file's [store] and data_dir (which -data-dir overrides).
func (s *storeFlags) location(env *Env) (config.Store, string, error) {
	if s.dataDir != "" && s.config == "" {
		return config.Store{Backend: config.StoreSQLite}, s.dataDir, nil
	}
	cfg, err := config.Load(configPath(env, s.config))
	if err != nil {
		return config.Store{}, "", fmt.Errorf("%w\n(use -config FILE or -data-dir DIR to choose the data)", err)
	}
	if s.dataDir != "" {
		return cfg.Store, s.dataDir, nil
	}
	return cfg.Store, cfg.DataDir, nil
}

// open opens the store named by the flags.
func (s *storeFlags) open(ctx context.Context, env *Env) (store.Store, error) {
	sc, dir, err := s.location(env)
	if err != nil {
		return nil, err
	}
	return daemon.OpenBackend(ctx, sc, dir, env.Getenv, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// withStore opens the store, runs f and closes the store.
func (s *storeFlags) withStore(ctx context.Context, env *Env, f func(store.Store) error) error {
	st, err := s.open(ctx, env)
	if err != nil {
		return err
	}
	ferr := f(st)
	if cerr := st.Close(); ferr == nil && cerr != nil {
		return cerr
	}
	return ferr
}

// canonical parses an address typed by an operator into the store's key.
func canonical(s string) (string, error) {
	a, err := smtp.ParseAddress(s)
	if err != nil {
		return "", fmt.Errorf("%q is not a valid address: %w", s, err)
	}
	return a.Canonical(), nil
}

// canonicalDomain parses a domain name typed by an operator.
func canonicalDomain(s string) (string, error) {
	d, err := smtp.ParseDomain(s)
	if err != nil {
		return "", fmt.Errorf("%q is not a valid domain: %w", s, err)
	}
	return d, nil
}

// optionalDomain reads the optional DOMAIN argument of the list commands:
// "" when there is none.
func optionalDomain(fs *flag.FlagSet) (string, error) {
	switch fs.NArg() {
	case 0:
		return "", nil
	case 1:
		return canonicalDomain(fs.Arg(0))
	}
	return "", usagef("name at most one domain")
}
