package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/posthorn/posthorn/internal/smtp"
	"github.com/posthorn/posthorn/internal/store"
)

// The key's domain's suppression list: GET lists it (address order,
// limit and cursor), POST adds an address, DELETE /{address} removes one
// so that it may be sent to again.

type suppression struct {
	Address string    `json:"address"`
	Reason  string    `json:"reason"`
	Created time.Time `json:"created"`
	// EventID is the bounce event that added it; absent when added by
	// hand.
	EventID string `json:"event_id,omitempty"`
}

type suppressionList struct {
	Suppressions []suppression `json:"suppressions"`
	NextCursor   string        `json:"next_cursor,omitempty"`
}

func (s *Server) listSuppressions(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	limit, err := limitParam(q.Get("limit"))
	if err != nil {
		return err
	}
	list, err := s.opts.Store.Suppressions(r.Context(), c.key.Domain, q.Get("cursor"), limit)
	if err != nil {
		return err
	}
	out := suppressionList{Suppressions: []suppression{}}
	for _, x := range list {
		out.Suppressions = append(out.Suppressions, suppression{Address: x.Address, Reason: x.Reason, Created: x.Created, EventID: x.EventID})
	}
	if len(list) == limit {
		out.NextCursor = list[len(list)-1].Address
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) addSuppression(w http.ResponseWriter, r *http.Request, c *call) error {
	var req struct {
		Address string `json:"address"`
		Reason  string `json:"reason"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	a, err := smtp.ParseAddress(req.Address)
	if err != nil {
		return errInvalid("address", "not an email address")
	}
	if len(req.Reason) > 1000 {
		return errInvalid("reason", "longer than 1000 bytes")
	}
	if req.Reason == "" {
		req.Reason = "added through the API"
	}
	sup := store.Suppression{Domain: c.key.Domain, Address: a.Canonical(), Reason: req.Reason, Created: s.now()}
	err = s.opts.Store.AddSuppression(r.Context(), sup)
	if errors.Is(err, store.ErrExists) {
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Field: "address", Message: "already on the suppression list"}
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, suppression{Address: sup.Address, Reason: sup.Reason, Created: sup.Created})
	return nil
}

func (s *Server) removeSuppression(w http.ResponseWriter, r *http.Request, c *call) error {
	a, err := smtp.ParseAddress(r.PathValue("address"))
	if err != nil {
		return errInvalid("address", "not an email address")
	}
	err = s.opts.Store.RemoveSuppression(r.Context(), c.key.Domain, a.Canonical())
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound("not on the key's domain's suppression list")
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
