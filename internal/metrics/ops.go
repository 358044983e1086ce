package metrics

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// OpsOptions configure OpsHandler.
type OpsOptions struct {
	// Registry is served at /metrics; nil answers 404 there.
	Registry *Registry
	// MetricsAllowed are the client networks that may read /metrics (it
	// reveals mail volumes); others get 403. Empty allows nobody.
	MetricsAllowed []netip.Prefix
	// Ready reports why the daemon cannot take traffic now (starting,
	// shutting down, store not answering), nil when it can. Nil: always
	// ready.
	Ready func(ctx context.Context) error
}

// readyTimeout bounds one readiness check.
const readyTimeout = 5 * time.Second

// OpsHandler serves the operations endpoints: /metrics (Prometheus text
// exposition, for MetricsAllowed clients), /healthz (200 "ok" while the
// process serves HTTP) and /readyz (200 "ok", or 503 with the reason).
// Other paths get 404.
func OpsHandler(o OpsOptions) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		text(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if o.Ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
			defer cancel()
			if err := o.Ready(ctx); err != nil {
				w.Header().Set("Retry-After", "5")
				text(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
				return
			}
		}
		text(w, http.StatusOK, "ok")
	})
	if o.Registry != nil {
		prom := o.Registry.Handler()
		mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
			if !allowed(r.RemoteAddr, o.MetricsAllowed) {
				text(w, http.StatusForbidden, "forbidden: this client network may not read metrics (see [metrics] allowed_networks)")
				return
			}
			prom.ServeHTTP(w, r)
		})
	}
	return mux
}

func text(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write([]byte(body + "\n"))
}

// allowed reports whether the client at remoteAddr ("ip:port") is in one
// of nets.
func allowed(remoteAddr string, nets []netip.Prefix) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap().WithZone("")
	for _, p := range nets {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
