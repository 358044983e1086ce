package httpapi

import "net/http"

// keyInfo is what GET /api/v1/key answers: the caller's key.
type keyInfo struct {
	Name    string `json:"name"`
	Prefix  string `json:"prefix"`
	Domain  string `json:"domain"`
	Address string `json:"address,omitempty"`
}

// getKey answers which key the request was made with and its scope.
func (s *Server) getKey(w http.ResponseWriter, r *http.Request, c *call) error {
	writeJSON(w, http.StatusOK, keyInfo{Name: c.key.Name, Prefix: c.key.Prefix, Domain: c.key.Domain, Address: c.key.Address})
	return nil
}
