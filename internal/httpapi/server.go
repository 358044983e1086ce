package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/posthorn/posthorn/internal/metrics"
	"github.com/posthorn/posthorn/internal/store"
)

// Options configure the API.
type Options struct {
	// Store holds the keys, the queue, events and the rest.
	Store store.Store
	// Logger receives internal failures. Nil discards.
	Logger *slog.Logger
	// Ops serves every path outside /api/ without authentication
	// (/metrics, /healthz, /readyz). Nil: those paths are 404.
	Ops http.Handler
	// MaxRequestBytes is the largest request body; more is 413. 0 means
	// 72 MiB.
	MaxRequestBytes int64
	// RateLimit is the requests per second each key may make on average,
	// RateBurst how many at once; RateLimit 0 is no limit.
	RateLimit float64
	RateBurst int
	// ReadTimeout bounds reading one request, IdleTimeout a keep-alive
	// connection's wait for the next (defaults 2 minutes each).
	ReadTimeout, IdleTimeout time.Duration
	// Sender sends messages: a *submission.Backend over the same store.
	Sender Sender
	// Hostname is our name in Received; SubaddressSeparator resolves
	// local recipients (user+tag@); HideClientIP leaves the client's
	// address out of Received ([submission] hide_client_ip).
	Hostname            string
	SubaddressSeparator string
	HideClientIP        bool
	// MaxMessageBytes is the largest message sent (built or raw); more is
	// 413. 0 means 50 MiB.
	MaxMessageBytes int64
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// Metrics counts messages sent (listener "api") and requests with a
	// bad key (auth failures, protocol "http"); nil counts nothing.
	Metrics *metrics.Registry
}

// Server is the HTTP API; it implements http.Handler.
type Server struct {
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	mux     *http.ServeMux
	limiter *limiter
	stop    context.CancelFunc // ends the pruning of idempotency records

	received *metrics.Received // see counted
}

// New returns the API over opts.Store.
func New(opts Options) *Server {
	s := &Server{opts: opts, log: opts.Logger, now: opts.Now, mux: http.NewServeMux(),
		limiter: newLimiter(opts.RateLimit, opts.RateBurst), received: opts.Metrics.Received("api")}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.opts.MaxRequestBytes <= 0 {
		s.opts.MaxRequestBytes = 72 << 20
	}
	if s.opts.MaxMessageBytes <= 0 {
		s.opts.MaxMessageBytes = 50 << 20
	}
	if s.opts.Hostname == "" {
		s.opts.Hostname = "localhost"
	}
	if s.opts.ReadTimeout <= 0 {
		s.opts.ReadTimeout = 2 * time.Minute
	}
	if s.opts.IdleTimeout <= 0 {
		s.opts.IdleTimeout = 2 * time.Minute
	}
	s.register()
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	if opts.Store != nil {
		go s.pruneIdempotency(ctx)
	}
	return s
}

// Close stops the server's background work (not its connections: see
// http.Server.Shutdown).
func (s *Server) Close() { s.stop() }

// HTTPServer returns an http.Server for s with its timeouts: 10 s for the
// request header, ReadTimeout for the whole request, a minute more for the
// answer, IdleTimeout between requests, 64 KiB of header at most.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       s.opts.ReadTimeout,
		WriteTimeout:      s.opts.ReadTimeout + time.Minute,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
}

// ServeHTTP implements http.Handler. /api and everything under /api/ is
// the API, whose answers are JSON, errors included (a 404 too); other
// paths go to Ops, which answers plain text as monitoring expects, or
// are a JSON 404 without Ops.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api" && !strings.HasPrefix(r.URL.Path, "/api/") {
		if s.opts.Ops != nil {
			s.opts.Ops.ServeHTTP(w, r)
			return
		}
		writeError(w, errNotFound("no such path"))
		return
	}
	if r.ContentLength > s.opts.MaxRequestBytes {
		// Refused before reading; the connection is closed rather than
		// drained.
		w.Header().Set("Connection", "close")
		writeError(w, errTooLarge(s.opts.MaxRequestBytes))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxRequestBytes)
	s.mux.ServeHTTP(w, r)
}

// call is what a handler gets besides the request.
type call struct {
	key store.APIKey // the caller's key; zero for routes without a key
}

// handler is a route's code: it writes the answer on success or returns
// the error to answer.
type handler func(w http.ResponseWriter, r *http.Request, c *call) error

// serve runs h for a route: authentication and the rate limit first, then
// the error mapping.
func (s *Server) serve(rt route) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := &call{}
		if rt.auth {
			k, err := s.authenticate(r.Context(), r)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			if ok, wait := s.limiter.take(k.ID, s.now()); !ok {
				writeError(w, &Error{Status: http.StatusTooManyRequests, Code: CodeRateLimited,
					Message: "rate limit of this API key exceeded", RetryAfter: wait})
				return
			}
			c.key = k
		}
		if err := rt.h(w, r, c); err != nil {
			s.fail(w, r, err)
		}
	}
}

// fail answers err: an API error as it is, anything else as 500.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := asError(err)
	if e == nil {
		if r.Context().Err() != nil {
			return // the client is gone
		}
		s.log.Error("http api", "method", r.Method, "path", r.URL.Path, "err", err)
		e = &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error; see the server log"}
	}
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="posthorn"`)
	}
	writeError(w, e)
}
