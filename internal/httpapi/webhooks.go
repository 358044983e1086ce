package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// The key's domain's webhook endpoints (package webhook POSTs events to
// them, signed with the secret): POST registers one and answers its
// secret, once; GET lists them without secrets; DELETE /{id} removes one.
// Inbound routes (endpoints with a pattern) are managed under
// /api/v1/routes (inbound_routes.go) and with `posthorn route`, and are not
// shown here.

type webhook struct {
	ID      int64             `json:"id"`
	URL     string            `json:"url"`
	Types   []store.EventType `json:"types"`
	Enabled bool              `json:"enabled"`
	Created time.Time         `json:"created"`
	// Secret signs the deliveries; only in the answer to POST.
	Secret string `json:"secret,omitempty"`
}

func toWebhook(e store.WebhookEndpoint) webhook {
	types := e.Types
	if types == nil {
		types = []store.EventType{}
	}
	return webhook{ID: e.ID, URL: e.URL, Types: types, Enabled: e.Enabled, Created: e.Created}
}

func (s *Server) addWebhook(w http.ResponseWriter, r *http.Request, c *call) error {
	var req struct {
		URL   string            `json:"url"`
		Types []store.EventType `json:"types"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if e := checkHookURL(req.URL); e != nil {
		return e
	}
	for i, t := range req.Types {
		if !t.Valid() {
			return errInvalid("types["+strconv.Itoa(i)+"]", "unknown event type "+strconv.Quote(string(t)))
		}
	}
	e, err := s.opts.Store.AddWebhookEndpoint(r.Context(), store.WebhookEndpoint{Domain: c.key.Domain, URL: req.URL, Types: req.Types, Enabled: true})
	if errors.Is(err, store.ErrInvalid) {
		return errInvalid("url", err.Error())
	}
	if err != nil {
		return err
	}
	out := toWebhook(e)
	out.Secret = e.Secret
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// checkHookURL checks the URL of a webhook endpoint or inbound route.
func checkHookURL(raw string) *Error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(raw) > 2000 {
		return errInvalid("url", "an absolute http or https URL")
	}
	return nil
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request, c *call) error {
	list, err := s.opts.Store.WebhookEndpoints(r.Context(), c.key.Domain)
	if err != nil {
		return err
	}
	out := struct {
		Webhooks []webhook `json:"webhooks"`
	}{[]webhook{}}
	for _, e := range list {
		if e.Pattern == "" {
			out.Webhooks = append(out.Webhooks, toWebhook(e))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) removeWebhook(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.removeEndpoint(w, r, "webhook in the key's domain", func(e store.WebhookEndpoint) bool {
		return e.Domain == c.key.Domain && e.Pattern == ""
	})
}
