package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/posthorn/posthorn/internal/delivery"
	"github.com/posthorn/posthorn/internal/queue"
	"github.com/posthorn/posthorn/internal/tlspolicy"
)

// outbound is the delivery worker and its client.
type outbound struct {
	deliverer *delivery.Deliverer
	worker    *queue.Worker
}

// startDelivery starts the outbound queue worker ([delivery]).
func (d *Daemon) startDelivery() error {
	c := d.cfg.Delivery
	if !c.Enabled {
		d.log.Info("delivery disabled: queued mail stays in the queue")
		return nil
	}
	dialer := &net.Dialer{Timeout: 30 * time.Second}
	if c.SourceAddress != "" {
		dialer.LocalAddr = &net.TCPAddr{IP: net.ParseIP(c.SourceAddress)}
	}
	routes := map[string]delivery.Route{}
	for _, r := range c.Routes {
		route := delivery.Route{Host: r.Host, Username: r.Username, Password: r.Password, RequireTLS: r.RequireTLS}
		if r.CAFile != "" {
			pem, err := os.ReadFile(r.CAFile)
			if err != nil {
				return fmt.Errorf("delivery route %s: %w", r.Domain, err)
			}
			roots := x509.NewCertPool()
			if !roots.AppendCertsFromPEM(pem) {
				return fmt.Errorf("delivery route %s: no certificates in %s", r.Domain, r.CAFile)
			}
			host, _, err := net.SplitHostPort(r.Host)
			if err != nil {
				host = r.Host
			}
			route.TLSConfig = &tls.Config{RootCAs: roots, ServerName: host}
		}
		routes[strings.ToLower(r.Domain)] = route
	}
	policy, err := tlspolicy.New(tlspolicy.Options{Resolver: d.resolver, CacheDir: filepath.Join(d.cfg.DataDir, "mta-sts"), Logger: d.log})
	if err != nil {
		return fmt.Errorf("tls policy: %w", err)
	}
	d.outbound.deliverer = delivery.New(delivery.Options{
		Hostname:          d.cfg.Hostname,
		Resolver:          d.resolver,
		Dialer:            dialer,
		Port:              c.Port,
		Routes:            routes,
		TLSPolicy:         policy,
		MaxPerDestination: c.MaxPerDestination,
		IdleTimeout:       c.IdleTimeout.D(),
		Logger:            d.log,
	})
	d.outbound.worker = queue.New(queue.Options{
		Store:               d.store,
		Deliverer:           d.outbound.deliverer,
		Hostname:            d.cfg.Hostname,
		SubaddressSeparator: d.cfg.SubaddressSeparator,
		Node:                d.cfg.Node,
		Lease:               c.Lease.D(),
		AttemptTimeout:      c.AttemptTimeout.D(),
		RetryMin:            c.RetryMin.D(),
		RetryMax:            c.RetryMax.D(),
		GiveUp:              c.GiveUp.D(),
		DelayWarning:        c.DelayWarning.D(),
		MaxInFlight:         c.MaxInFlight,
		Logger:              d.log,
		Metrics:             d.metrics,
		Signer:              d.dkim,
	})
	d.outbound.worker.Start()
	return nil
}

// wakeDelivery makes the delivery worker look at the queue now, after a
// message was enqueued (submission, sendmail, the HTTP API), instead of at
// its next poll. The worker is set before any listener serves.
func (d *Daemon) wakeDelivery() {
	if w := d.outbound.worker; w != nil {
		w.Wake()
	}
}

// stopDelivery lets attempts in flight finish until ctx ends.
func (d *Daemon) stopDelivery(ctx context.Context) error {
	if d.outbound.worker == nil {
		return nil
	}
	err := d.outbound.worker.Shutdown(ctx)
	d.outbound.deliverer.Close()
	if err != nil {
		return fmt.Errorf("delivery: %w", err)
	}
	return nil
}
