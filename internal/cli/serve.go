package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/posthorn/posthorn/internal/config"
	"github.com/posthorn/posthorn/internal/daemon"
)

func serveCommand() *command {
	var cfgFile string
	return &command{
		name:    "serve",
		summary: "run the mail server",
		usage:   "[-config FILE]",
		help: `Runs every listener of the configuration until SIGTERM or SIGINT. On
either signal posthorn stops accepting connections, lets transactions in
flight finish (up to limits.smtp.shutdown_grace) and exits with status 0.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&cfgFile, "config", "", "configuration `file` (default $POSTHORN_CONFIG or "+DefaultConfigFile+")")
		},
		run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
			if fs.NArg() != 0 {
				return usagef("takes no arguments")
			}
			cfg, err := config.Load(configPath(env, cfgFile))
			if err != nil {
				return err
			}
			return serve(ctx, env, cfg, nil)
		},
	}
}

// serve runs a daemon until a signal. ready, when not nil, is called once
// every listener is bound.
func serve(ctx context.Context, env *Env, cfg *config.Config, ready func(*daemon.Daemon) error) error {
	logger, err := daemon.NewLogger(env.Stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	d, err := daemon.Start(ctx, cfg, logger)
	if err != nil {
		return err
	}
	if ready != nil {
		if err := ready(d); err != nil {
			d.Shutdown(ctx)
			return err
		}
	}
	var runErr error
	select {
	case s := <-sigs:
		logger.Info("shutting down", "signal", s.String(), "grace", cfg.Limits.SMTP.ShutdownGrace.D().String())
	case runErr = <-d.Errors():
		logger.Error("listener failed; shutting down", "err", runErr)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Limits.SMTP.ShutdownGrace.D())
	defer cancel()
	if err := d.Shutdown(sctx); err != nil {
		logger.Warn("shutdown", "err", err)
	}
	logger.Info("stopped")
	if runErr != nil {
		return fmt.Errorf("listener failed: %w", runErr)
	}
	return nil
}
