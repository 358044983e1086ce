package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// GET /api/v1/messages/{id}: where each recipient of a sent message
// stands, from the message's events (store.MessageStatus). A key limited
// to one address sees only messages sent as that address (their events'
// Submitter); any other id is 404, as if it did not exist.

type messageStatus struct {
	ID         string            `json:"id"`
	Queued     time.Time         `json:"queued"`
	Recipients []recipientStatus `json:"recipients"`
}

type recipientStatus struct {
	Email string `json:"email"`
	// Status is queued, delivered, deferred, bounced or suppressed.
	Status string    `json:"status"`
	Time   time.Time `json:"time"`
	// Reply is the remote server's answer (delivered), the last error
	// (deferred), the reason (bounced, suppressed).
	Reply       string    `json:"reply,omitempty"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
}

func (s *Server) getMessage(w http.ResponseWriter, r *http.Request, c *call) error {
	st, err := s.opts.Store.MessageStatus(r.Context(), c.key.Domain, r.PathValue("id"), c.key.Address)
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound("no message with this id in the key's domain")
	}
	if err != nil {
		return err
	}
	out := messageStatus{ID: st.Message, Queued: st.Queued, Recipients: []recipientStatus{}}
	for _, rs := range st.Recipients {
		out.Recipients = append(out.Recipients, recipientStatus{Email: rs.Recipient, Status: string(rs.Status),
			Time: rs.Time, Reply: rs.Reply, NextAttempt: rs.NextAttempt})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
