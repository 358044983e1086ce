package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"

	"golang.org/x/net/netutil"

	"github.com/posthorn/posthorn/internal/config"
	"github.com/posthorn/posthorn/internal/httpapi"
	"github.com/posthorn/posthorn/internal/submission"
)

// newHTTPListener binds an "http" listener: the API of package httpapi,
// over TLS with the shared certificates unless http.plaintext is set or
// there are none (then only on loopback; config.Validate checks).
func (d *Daemon) newHTTPListener(lc config.Listener, tlsConfig *tls.Config) (*listener, error) {
	h := d.cfg.HTTP
	plain := h.Plaintext || tlsConfig == nil
	if plain && !h.Plaintext && !config.LoopbackAddress(lc.Address) {
		return nil, fmt.Errorf("http listener %s: plain HTTP off loopback: configure [tls], or set http.plaintext behind a TLS proxy", lc.Address)
	}
	ln, err := d.listen(lc)
	if err != nil {
		return nil, fmt.Errorf("http listener: %w", err)
	}
	ln = netutil.LimitListener(ln, h.MaxConnections)
	sender := submission.New(submission.Options{
		Store:               d.store,
		Hostname:            d.cfg.Hostname,
		SubaddressSeparator: d.cfg.SubaddressSeparator,
		Signer:              d.dkim,
		Queued:              d.wakeDelivery,
		Logger:              d.log,
	})
	api := httpapi.New(httpapi.Options{
		Store:               d.store,
		Sender:              sender,
		Hostname:            d.cfg.Hostname,
		SubaddressSeparator: d.cfg.SubaddressSeparator,
		HideClientIP:        d.cfg.Submission.HideClientIP,
		MaxMessageBytes:     d.cfg.Limits.SMTP.MaxMessageSize.Int64(),
		Logger:              d.log.With("role", lc.Role),
		Ops:                 d.httpOps,
		Metrics:             d.metrics,
		MaxRequestBytes:     h.MaxRequestSize.Int64(),
		RateLimit:           h.RateLimit,
		RateBurst:           h.RateBurst,
		ReadTimeout:         h.ReadTimeout.D(),
		IdleTimeout:         h.IdleTimeout.D(),
	})
	hs := api.HTTPServer()
	conns := d.metrics.Conns(lc.Role)
	hs.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			conns.Opened()
		case http.StateClosed, http.StateHijacked:
			conns.Closed()
		}
	}
	srv := httpServer{hs, api}
	if plain {
		return &listener{role: lc.Role, ln: ln, srv: srv}, nil
	}
	tc := tlsConfig.Clone()
	tc.NextProtos = []string{"http/1.1"}
	return &listener{role: lc.Role, ln: tls.NewListener(ln, tc), srv: srv}, nil
}

// httpServer is an http.Server whose Serve returns nil after Shutdown,
// which also stops the API's background work.
type httpServer struct {
	*http.Server
	api *httpapi.Server
}

func (s httpServer) Shutdown(ctx context.Context) error {
	s.api.Close()
	return s.Server.Shutdown(ctx)
}

func (s httpServer) Serve(ln net.Listener) error {
	if err := s.Server.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
