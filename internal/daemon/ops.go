package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/posthorn/posthorn/internal/config"
	"github.com/posthorn/posthorn/internal/metrics"
)

// health is what /readyz reports: whether Start has finished, Shutdown
// has begun, and the first listener that stopped serving.
type health struct {
	started, stopping atomic.Bool
	failed            atomic.Pointer[error]
}

// ready reports why the daemon cannot take traffic, nil when it can: all
// listeners serving and the store answering a cheap query.
func (d *Daemon) ready(ctx context.Context) error {
	switch {
	case d.health.stopping.Load():
		return errors.New("shutting down")
	case !d.health.started.Load():
		return errors.New("starting")
	}
	if err := d.health.failed.Load(); err != nil {
		return *err
	}
	if _, err := d.store.QueueCounts(ctx, time.Now()); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// listenerFailed records a listener that stopped serving: the daemon is
// no longer ready.
func (d *Daemon) listenerFailed(err error) {
	d.health.failed.CompareAndSwap(nil, &err)
}

// Metrics returns the daemon's Prometheus registry.
func (d *Daemon) Metrics() *metrics.Registry { return d.metrics }

// OpsHandler serves /metrics (for [metrics] allowed_networks), /healthz
// and /readyz; the http listener mounts it.
func (d *Daemon) OpsHandler() http.Handler {
	return metrics.OpsHandler(metrics.OpsOptions{
		Registry:       d.metrics,
		MetricsAllowed: config.Prefixes(d.cfg.Metrics.AllowedNetworks),
		Ready:          d.ready,
	})
}
