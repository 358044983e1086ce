package httpapi

import "net/http"

// badKey counts a request with a key that is not ours (a failed login,
// protocol "http") and returns its error.
func (s *Server) badKey() error {
	s.opts.Metrics.AuthFailure("http", "credentials")
	return errBadKey
}

// counted wraps the send handler to count each message the API was asked
// to send as posthorn_messages_received_total{listener="api"}: accepted
// (202), or refused temporarily (429, 5xx) or for good (other 4xx). An
// idempotent replay was counted the first time.
func (s *Server) counted(h handler) handler {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		err := h(w, r, c)
		switch {
		case w.Header().Get("Idempotent-Replayed") != "":
		case err == nil:
			s.received.Accepted()
		default:
			e := asError(err)
			s.received.Refused(e == nil || e.Status == http.StatusTooManyRequests || e.Status >= 500)
		}
		return err
	}
}
