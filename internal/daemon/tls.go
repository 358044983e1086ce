package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/posthorn/posthorn/internal/certs"
	"github.com/posthorn/posthorn/internal/config"
)

// certWatchInterval is how often certificate files are checked for
// changes (renewal tools replace them in place).
const certWatchInterval = time.Minute

// tlsRuntime is what keeps the certificates current: the file watcher,
// SIGHUP, and the ACME challenge listeners.
type tlsRuntime struct {
	certs   *certs.Manager
	cancel  context.CancelFunc
	started bool          // the watcher goroutine runs
	done    chan struct{} // closed when it has returned
	closes  []func() error
}

// startTLS builds the certificate manager from [tls] and starts what
// keeps it current. It returns nil without a certificate.
func (d *Daemon) startTLS(cfg *config.Config) (*tls.Config, error) {
	t := cfg.TLS
	if !t.Enabled() {
		return nil, nil
	}
	opts := certs.Options{MinVersion: t.MinVersion, Logger: d.log}
	if t.CertFile != "" {
		opts.Pairs = append(opts.Pairs, certs.Pair{CertFile: t.CertFile, KeyFile: t.KeyFile})
	}
	for _, c := range t.Certificates {
		opts.Pairs = append(opts.Pairs, certs.Pair{CertFile: c.CertFile, KeyFile: c.KeyFile})
	}
	if a := t.ACME; len(a.Hostnames) > 0 {
		client, err := acmeHTTPClient(a.CAFile)
		if err != nil {
			return nil, err
		}
		opts.ACME = &certs.ACMEOptions{
			Hostnames:    a.Hostnames,
			Email:        a.Email,
			DirectoryURL: a.DirectoryURL,
			CacheDir:     filepath.Join(cfg.DataDir, "acme"),
			HTTPClient:   client,
		}
	}
	m, err := certs.New(opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	rt := &tlsRuntime{certs: m, cancel: cancel, done: make(chan struct{})}
	d.tls = rt
	if err := rt.startChallenges(t.ACME, m); err != nil {
		rt.stop()
		return nil, err
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	rt.started = true
	go func() {
		defer close(rt.done)
		defer signal.Stop(hup)
		go m.Watch(ctx, certWatchInterval)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := m.Reload(); err != nil {
					d.log.Error("tls: reload on SIGHUP failed; keeping the old certificates", "err", err)
				} else {
					d.log.Info("tls: certificates reloaded on SIGHUP")
				}
			}
		}
	}()
	if opts.ACME != nil {
		go func() {
			if err := m.Obtain(ctx); err != nil && ctx.Err() == nil {
				d.log.Error("tls: ACME", "err", err)
			}
		}()
	}
	return m.ServerConfig(), nil
}

// startChallenges binds the ACME challenge listeners.
func (rt *tlsRuntime) startChallenges(a config.ACME, m *certs.Manager) error {
	if len(a.Hostnames) == 0 {
		return nil
	}
	if a.TLSAddress != "" {
		l, err := net.Listen("tcp", a.TLSAddress)
		if err != nil {
			return fmt.Errorf("ACME TLS-ALPN-01 listener: %w", err)
		}
		rt.closes = append(rt.closes, l.Close)
		go m.ServeALPN(l)
	}
	if a.HTTPAddress != "" {
		l, err := net.Listen("tcp", a.HTTPAddress)
		if err != nil {
			return fmt.Errorf("ACME HTTP-01 listener: %w", err)
		}
		srv := &http.Server{Handler: m.HTTPHandler(), ReadHeaderTimeout: 10 * time.Second}
		rt.closes = append(rt.closes, srv.Close)
		go srv.Serve(l)
	}
	return nil
}

// stop ends the watcher and closes the challenge listeners.
func (rt *tlsRuntime) stop() {
	rt.cancel()
	for _, c := range rt.closes {
		c()
	}
	if rt.started {
		<-rt.done
	}
}

// acmeHTTPClient trusts caFile's roots besides the system's, for a
// private or test ACME authority.
func acmeHTTPClient(caFile string) (*http.Client, error) {
	if caFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("tls.acme.ca_file holds no PEM certificate")
	}
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}, nil
}
