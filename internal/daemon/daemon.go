// Package daemon is posthorn's composition root: a Config comes in, the
// store, TLS certificates and listeners are built from it top to bottom, and
// Shutdown takes them down in the reverse order. Nothing here is global, so
// tests run several daemons in one process.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"

	"github.com/posthorn/posthorn/internal/auth"
	"github.com/posthorn/posthorn/internal/config"
	"github.com/posthorn/posthorn/internal/dkim"
	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/greylist"
	"github.com/posthorn/posthorn/internal/metrics"
	"github.com/posthorn/posthorn/internal/pop3server"
	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/webhook"
)

// Daemon is a running posthorn.
type Daemon struct {
	cfg       *config.Config
	log       *slog.Logger
	store     store.Store
	auth      *auth.Service         // logins of every protocol, one throttle
	tls       *tlsRuntime           // certificate reloads and ACME; nil without TLS
	maildrops *pop3server.Maildrops // POP3 size cache shared by 110 and 995 (the maildrop locks are in the store)
	resolver  *dns.Client           // every DNS lookup, one cache ([dns])
	greylist  *greylist.List        // [checks] greylisting state; nil when off
	dkim      *dkim.DirSigner       // signs submitted mail with DATA/dkim's keys
	listeners []*listener
	outbound  outbound        // the delivery worker
	webhooks  *webhook.Worker // posts events to applications
	metrics   *metrics.Registry
	health    health // for /readyz
	// httpOps serves the non-API paths of the "http" listeners (metrics,
	// health); nil: 404.
	httpOps http.Handler

	serveErr chan error
	once     sync.Once
}

// listener is one bound address serving one role.
type listener struct {
	role string
	ln   net.Listener
	srv  interface {
		Serve(net.Listener) error
		Shutdown(context.Context) error
	}
}

// Start opens the store, makes sure the configured domains exist, binds
// every listener and starts serving. When it returns without error every
// listener accepts connections: Addrs tells where.
func Start(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*Daemon, error) {
	d := &Daemon{cfg: cfg, log: logger, serveErr: make(chan error, len(cfg.Listeners)+1), maildrops: pop3server.NewMaildrops()}
	resolver, err := NewResolver(cfg.DNS)
	if err != nil {
		return nil, err
	}
	d.resolver = resolver
	st, err := OpenBackend(ctx, cfg.Store, cfg.DataDir, os.Getenv, logger)
	if err != nil {
		return nil, err
	}
	d.store = st
	d.metrics = metrics.New()
	d.metrics.WatchQueue(st)
	d.httpOps = d.OpsHandler() // /metrics, /healthz, /readyz on the http listeners
	if d.dkim, err = dkim.NewDirSigner(DKIMKeys(cfg.DataDir), dkim.SignOptions{}, 0); err != nil {
		st.Close()
		return nil, err
	}
	if err := d.ensureDomains(ctx); err != nil {
		st.Close()
		return nil, err
	}
	tlsConfig, err := d.startTLS(cfg)
	if err != nil {
		st.Close()
		return nil, err
	}
	throttle := auth.ThrottleOptions{
		Delay:                 cfg.Auth.FailureDelay.D(),
		MaxDelay:              cfg.Auth.MaxFailureDelay.D(),
		MaxFailuresPerIP:      cfg.Auth.MaxFailuresPerIP,
		MaxFailuresPerAccount: cfg.Auth.MaxFailuresPerAccount,
		Window:                cfg.Auth.LockoutWindow.D(),
	}
	if shared, ok := st.(auth.FailureStore); ok { // PostgreSQL: every node counts the same failures
		throttle.Shared = shared
	}
	d.auth = auth.NewService(st, auth.ServiceOptions{
		Logger:        logger,
		Throttle:      throttle,
		LoginCacheTTL: cfg.Auth.LoginCache.D(),
		Metrics:       d.metrics,
	})
	for _, lc := range cfg.Listeners {
		l, err := d.newListener(lc, tlsConfig)
		if err != nil {
			d.closeListeners()
			if d.tls != nil {
				d.tls.stop()
			}
			st.Close()
			return nil, err
		}
		d.listeners = append(d.listeners, l)
	}
	sendmail, err := d.newSendmailListener()
	if err != nil {
		d.closeListeners()
		if d.tls != nil {
			d.tls.stop()
		}
		st.Close()
		return nil, err
	}
	if sendmail != nil {
		d.listeners = append(d.listeners, sendmail)
	}
	if err := d.startDelivery(); err != nil {
		d.closeListeners()
		if d.tls != nil {
			d.tls.stop()
		}
		st.Close()
		return nil, err
	}
	d.startWebhooks()
	for _, l := range d.listeners {
		go func(l *listener) {
			if err := l.srv.Serve(l.ln); err != nil && !errors.Is(err, net.ErrClosed) {
				err = fmt.Errorf("%s listener %s: %w", l.role, l.ln.Addr(), err)
				d.listenerFailed(err)
				d.serveErr <- err
			}
		}(l)
		logger.Info("listening", "role", l.role, "addr", l.ln.Addr().String())
	}
	// The scheduler's CPU count, for operators sizing several nodes on
	// one machine (docs/scaling.md, "CPU: give each node its share").
	logger.Info("started", "store", cfg.Store.Backend, "gomaxprocs", runtime.GOMAXPROCS(0), "cpus", runtime.NumCPU())
	d.health.started.Store(true)
	return d, nil
}

func (d *Daemon) ensureDomains(ctx context.Context) error {
	for _, name := range d.cfg.Domains {
		ok, err := d.store.HasDomain(ctx, name)
		if err != nil {
			return err
		}
		if ok {
			continue
		}
		if err := d.store.AddDomain(ctx, name); err != nil && !errors.Is(err, store.ErrExists) {
			return fmt.Errorf("adding configured domain %s: %w", name, err)
		}
		d.log.Info("added configured domain", "domain", name)
	}
	return nil
}

// Auth returns the daemon's authentication service, shared by every
// protocol that takes logins.
func (d *Daemon) Auth() *auth.Service { return d.auth }

// Addrs returns the bound address of every network listener by role (the
// first one of each role); the sendmail socket is not among them.
func (d *Daemon) Addrs() map[string]net.Addr {
	m := map[string]net.Addr{}
	for _, l := range d.listeners {
		if l.role == roleSendmail {
			continue // a path, see SendmailSocket
		}
		if _, ok := m[l.role]; !ok {
			m[l.role] = l.ln.Addr()
		}
	}
	return m
}

// Store returns the daemon's store (for tests and the dev command).
func (d *Daemon) Store() store.Store { return d.store }

// Errors delivers a listener's fatal error; the caller should shut down.
func (d *Daemon) Errors() <-chan error { return d.serveErr }

// Shutdown stops accepting connections, lets transactions in flight finish
// until ctx expires, then closes the rest and the store.
func (d *Daemon) Shutdown(ctx context.Context) error {
	var err error
	d.once.Do(func() {
		d.health.stopping.Store(true) // /readyz answers 503 from now on
		var wg sync.WaitGroup
		errs := make([]error, len(d.listeners)+1)
		shutdown := func(http bool) {
			for i, l := range d.listeners {
				if (l.role == config.RoleHTTP) != http {
					continue
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = l.srv.Shutdown(ctx)
				}()
			}
		}
		shutdown(false)
		errs[len(d.listeners)] = d.stopDelivery(ctx)
		wg.Wait()
		// The http listeners last: while mail sessions drain they still
		// answer, /readyz with 503, so a load balancer sees us leave.
		shutdown(true)
		wg.Wait()
		errs = append(errs, d.stopWebhooks(ctx))
		if d.tls != nil {
			d.tls.stop()
		}
		if d.greylist != nil {
			errs = append(errs, d.greylist.Close())
		}
		errs = append(errs, d.store.Close())
		err = errors.Join(errs...)
	})
	return err
}

func (d *Daemon) closeListeners() {
	for _, l := range d.listeners {
		l.ln.Close()
	}
}
