package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/posthorn/posthorn/internal/compose"
	"github.com/posthorn/posthorn/internal/store"
)

// Inbound routes of the key's domain (package compose; the same endpoints
// `posthorn route` manages): mail to the pattern is parsed and POSTed to
// the URL as signed "inbound" events. POST adds one and answers its secret,
// once; GET lists them; DELETE /{id} removes one. A key scoped to one
// address may only route that address.

type inboundRoute struct {
	ID      int64     `json:"id"`
	Pattern string    `json:"pattern"`
	URL     string    `json:"url"`
	Keep    bool      `json:"keep"`
	Enabled bool      `json:"enabled"`
	Created time.Time `json:"created"`
	// Secret signs the deliveries; only in the answer to POST.
	Secret string `json:"secret,omitempty"`
}

func toInboundRoute(e store.WebhookEndpoint) inboundRoute {
	return inboundRoute{ID: e.ID, Pattern: e.Pattern, URL: e.URL, Keep: e.Keep, Enabled: e.Enabled, Created: e.Created}
}

// routeInScope reports whether the key may see and change a route.
func routeInScope(c *call, e store.WebhookEndpoint) bool {
	return e.Pattern != "" && e.Domain == c.key.Domain && (c.key.Address == "" || e.Pattern == c.key.Address)
}

func (s *Server) addInboundRoute(w http.ResponseWriter, r *http.Request, c *call) error {
	var req struct {
		Pattern string `json:"pattern"`
		URL     string `json:"url"`
		Keep    bool   `json:"keep"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	p, err := compose.ParsePattern(req.Pattern)
	if err != nil {
		return errInvalid("pattern", err.Error())
	}
	if p.Domain != c.key.Domain || c.key.Address != "" && p.String() != c.key.Address {
		return errForbidden("pattern", "the key may only route addresses of its scope")
	}
	if e := checkHookURL(req.URL); e != nil {
		return e
	}
	existing, err := s.opts.Store.WebhookEndpoints(r.Context(), p.Domain)
	if err != nil {
		return err
	}
	for _, e := range existing {
		if e.Pattern == p.String() {
			return &Error{Status: http.StatusConflict, Code: CodeConflict, Field: "pattern",
				Message: "a route for " + p.String() + " exists (id " + strconv.FormatInt(e.ID, 10) + ")"}
		}
	}
	e, err := s.opts.Store.AddWebhookEndpoint(r.Context(), store.WebhookEndpoint{
		Domain: p.Domain, URL: req.URL, Pattern: p.String(), Keep: req.Keep, Enabled: true})
	if errors.Is(err, store.ErrInvalid) {
		return errInvalid("url", err.Error())
	}
	if err != nil {
		return err
	}
	out := toInboundRoute(e)
	out.Secret = e.Secret
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) listInboundRoutes(w http.ResponseWriter, r *http.Request, c *call) error {
	list, err := s.opts.Store.WebhookEndpoints(r.Context(), c.key.Domain)
	if err != nil {
		return err
	}
	out := struct {
		Routes []inboundRoute `json:"routes"`
	}{[]inboundRoute{}}
	for _, e := range list {
		if routeInScope(c, e) {
			out.Routes = append(out.Routes, toInboundRoute(e))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) removeInboundRoute(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.removeEndpoint(w, r, "route in the key's scope", func(e store.WebhookEndpoint) bool { return routeInScope(c, e) })
}

// removeEndpoint deletes the webhook endpoint or route /{id} when inScope
// says the key may (404 "no such WHAT" otherwise).
func (s *Server) removeEndpoint(w http.ResponseWriter, r *http.Request, what string, inScope func(store.WebhookEndpoint) bool) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return errNotFound("no such " + what)
	}
	e, err := s.opts.Store.WebhookEndpoint(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || err == nil && !inScope(e) {
		return errNotFound("no such " + what)
	}
	if err != nil {
		return err
	}
	if err := s.opts.Store.RemoveWebhookEndpoint(r.Context(), id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
